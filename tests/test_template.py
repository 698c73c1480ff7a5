"""Templating: strict and lenient rendering, the q filter, analysis, when, placeholders, reports."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from cliprobe import after_cli

from runbook_engine.template import (
    TemplateError,
    evaluate,
    render,
    render_lenient,
    report_environment,
    steps_referenced,
    substitute_placeholders,
    variables_used,
)


def test_render_plain_text_untouched() -> None:
    text = "echo $HOME ${X:-1} {not a template}\n"
    assert render(text, {}) == text


def test_render_values_and_trailing_newline() -> None:
    assert render("echo {{ a }} {{ b.c }}\n", {"a": 1, "b": {"c": "x"}}) == "echo 1 x\n"


@pytest.mark.parametrize("text", ["{{ missing }}", "{{ missing | q }}",
                                  "{% if missing %}x{% endif %}", "{{ missing ~ 'x' }}"])
def test_render_undefined_is_an_error_never_empty(text: str) -> None:
    with pytest.raises(TemplateError, match="undefined variable 'missing'"):
        render(text, {})


def test_render_undefined_attribute_names_the_path() -> None:
    with pytest.raises(TemplateError, match="undefined variable 'steps.build.stdout'"):
        render("{{ steps.build.stdout }}", {"steps": {}})


def test_template_error_exit_code_and_syntax() -> None:
    with pytest.raises(TemplateError, match="template syntax error") as info:
        render("{% if %}", {})
    assert info.value.exit_code == 2


def test_q_filter_quotes_for_the_shell() -> None:
    rendered = render("printf '%s\\n' {{ v | q }} {{ n | q }}", {"v": "a b'c", "n": 42})
    assert rendered == "printf '%s\\n' 'a b'\"'\"'c' 42"
    out = subprocess.run(["bash", "-c", rendered], capture_output=True, text=True, check=True)
    assert out.stdout == "a b'c\n42\n"


def test_q_filter_in_complex_templates_too() -> None:
    assert render("{% for x in xs %}{{ x | q }} {% endfor %}", {"xs": ["a b", "c"]}) == "'a b' c "


def test_render_lenient_shows_unknowns_visibly() -> None:
    text = "deploy {{ version }} {{ version | q }} {{ steps.build.stdout }} {{ known }}"
    assert render_lenient(text, {"known": "k"}) == (
        "deploy {{ version }} {{ version }} {{ steps.build.stdout }} k")


def test_render_lenient_in_complex_templates() -> None:
    text = ("{% for h in hosts %}{{ h }},{% endfor %} {{ steps['b'].rc }} {{ tag | upper }}"
            " {{ steps.x.stdout | q }} {{ y | default('dflt') }}")
    assert render_lenient(text, {"hosts": ["a", "b"], "steps": {"z": {}}}) == (
        "a,b, {{ steps.b.rc }} {{ tag }} {{ steps.x.stdout }} dflt")


def test_render_lenient_broken_template_returned_as_is() -> None:
    assert render_lenient("{% if %}", {}) == "{% if %}"


def test_variables_used_and_steps_referenced() -> None:
    text = "{{ a }} {{ b.c | q }} {% for i in items %}{{ i }}{% endfor %} {{ steps.one.stdout }}"
    assert variables_used(text) == {"a", "b", "items", "steps"}
    assert steps_referenced(text) == {"one"}
    assert steps_referenced("{{ steps['two'].rc }} {% if steps.three.ok %}{% endif %}") == {
        "two", "three"}
    assert variables_used("plain") == set()


def test_evaluate() -> None:
    assert evaluate("env_name == 'prod'", {"env_name": "prod"}) is True
    assert evaluate("{{ flag }}", {"flag": "false"}) is False
    assert evaluate("count > 2", {"count": 3}) is True
    with pytest.raises(TemplateError, match="undefined variable 'nope'"):
        evaluate("nope", {})
    with pytest.raises(TemplateError, match="undefined variable 'nope'"):
        evaluate("nope == 1", {})


def test_substitute_placeholders_quotes_for_context() -> None:
    code = "kill -9 <PID>\necho \"name: <name>\" 'raw: <name>'"
    out = substitute_placeholders(code, {"PID": "123", "name": "it's $HOME"})
    assert out == "kill -9 123\necho \"name: it's \\$HOME\" 'raw: it'\\''s $HOME'"
    ran = subprocess.run(["bash", "-c", out.split("\n")[1]], capture_output=True, text=True)
    assert ran.stdout == "name: it's $HOME raw: it's $HOME\n"


def test_substitute_placeholders_spaces_stay_one_word() -> None:
    out = substitute_placeholders("printf '[%s]' <x>", {"x": "a b; rm -rf /"})
    ran = subprocess.run(["bash", "-c", out], capture_output=True, text=True)
    assert ran.stdout == "[a b; rm -rf /]"


def test_substitute_placeholders_missing() -> None:
    assert substitute_placeholders("ssh <host> <cmd>", {"host": "h"}, lenient=True) == "ssh h <cmd>"
    with pytest.raises(TemplateError, match=r"placeholder <pid> has no value.*did you mean 'PID'"):
        substitute_placeholders("kill <pid>", {"PID": "1"})
    # comments and heredoc operators are not placeholders
    code = "# see <doc>\ncat <<EOF\nx\nEOF"
    assert substitute_placeholders(code, {}) == code


def test_many_distinct_templates_render_fast() -> None:
    texts = [f"echo {i} {{{{ v{i % 7} | q }}}} {{{{ steps.s{i}.stdout }}}}\n"
             for i in range(10_000)]
    start = time.perf_counter()
    for text in texts:
        render_lenient(text, {"v1": "x"})
        variables_used(text)
    assert time.perf_counter() - start < 2.0  # generous: the real budget is ~0.1 s


def test_report_environment(tmp_path: Path) -> None:
    from runbook_engine.mdtext import md_cell, md_fence
    from runbook_engine.transcript.filters import fmt_duration, fmt_time

    filters = {"duration": fmt_duration, "clock": fmt_time, "md_cell": md_cell,
               "fence": md_fence}
    (tmp_path / "r.md").write_text("{{ d | duration }} {{ ts | clock }} {{ cell | md_cell }}\n")
    (tmp_path / "r.html").write_text("<p>{{ text }}</p>")
    (tmp_path / "r.html.j2").write_text("<p>{{ text }}</p>")
    env = report_environment(str(tmp_path), filters)
    out = env.get_template("r.md").render(d=125, ts="2026-01-02T03:04:05.678Z", cell="a|b")
    assert out == "2m05s 03:04:05 a\\|b\n"
    assert env.get_template("r.html").render(text="<b>") == "<p>&lt;b&gt;</p>"
    assert env.get_template("r.html.j2").render(text="<b>") == "<p>&lt;b&gt;</p>"
    assert env.from_string("{{ c | fence }}bash").render(c="echo ```") == "````bash"
    assert env.from_string("{{ 'a b' | q }}").render() == "'a b'"


@pytest.mark.parametrize("text", [
    "a {{ x }} b {{ y | q }}\n", "{{x}}{{ x|q|q }}", "{{ d.k }} {{ d['k'] }} {{ d[\"k\"] | q }}",
    "{{ n }} {{ none }} {{ flag }} {{ items }}",
])
def test_fast_path_matches_jinja(text: str) -> None:
    import jinja2

    from runbook_engine.template import ENV

    context = {"x": "a b", "y": "it's", "d": {"k": "v w"}, "n": 3, "none": None, "flag": True,
               "items": ["a"]}
    assert isinstance(ENV.undefined, type) and issubclass(ENV.undefined, jinja2.StrictUndefined)
    through_jinja = text + "{% if true %}{% endif %}"  # not a simple lookup: jinja renders it
    assert render(text, context) == render(through_jinja, context)


def test_go_templates_in_commands_pass_through() -> None:
    code = "docker inspect -f '{{json .State}}' {{ name | q }}; docker ps --format '{{.Names}}'"
    assert render(code, {"name": "web 1"}) == (
        "docker inspect -f '{{json .State}}' 'web 1'; docker ps --format '{{.Names}}'")
    assert variables_used(code) == {"name"}
    loop = "{{range .Mounts}}{{.Source}}{{end}}"
    assert render(loop, {}) == loop


@pytest.mark.parametrize(("seconds", "spelt"), [
    (0.416, "0.42s"), (9.994, "9.99s"), (9.999, "10.0s"), (12.34, "12.3s"), (59.9, "59.9s"),
    (59.96, "1m00s"), (125, "2m05s"), (3599, "59m59s"), (3900, "1h05m")])
def test_one_spelling_of_elapsed_time_on_screen_and_in_reports(seconds: float, spelt: str) -> None:
    from runbook_engine.stamps import spell_elapsed
    from runbook_engine.transcript.filters import fmt_duration
    assert spell_elapsed(seconds) == spelt
    assert fmt_duration(seconds) == spelt
    assert fmt_duration(True) == "" and fmt_duration(None) == ""


def test_globals_are_the_sandbox_environments() -> None:
    from runbook_engine.template import ENV, GLOBALS, LENIENT_ENV

    assert GLOBALS == frozenset(ENV.globals) == frozenset(LENIENT_ENV.globals)


def test_a_runbook_without_templates_never_imports_jinja2(tmp_path: Path) -> None:
    # the environments are built when a text first needs jinja (~20 ms of every start)
    book = tmp_path / "book.md"
    book.write_text("# T\n\n```bash\necho {{ name }} plain\n```\n\n```bash\necho hi\n```\n")
    out, value = after_cli(["plan", "--var", "name=x", str(book)], "'jinja2' in sys.modules")
    assert value == "False" and "echo x plain" in out, out
