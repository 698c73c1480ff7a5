"""Templates render in a sandbox: known escapes and resource bombs, through the API and the CLI.

Every escape must end as one TemplateError line (or render inertly in the lenient plan), never
execute, never hang, never traceback; the sentinel file each payload tries to create must not
appear. The payloads are the public families of jinja2 SSTI (globals of the default helpers,
the MRO walk, ``self``, ``|attr`` and escaped names, ``str.format`` and its CVEs, loops and
macros) written for this suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from runbook_engine.template import (
    TemplateError,
    evaluate,
    problem,
    render,
    render_lenient,
    report_environment,
)

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb",
       "EDITOR": ""}

#: attempts to run code; ``{S}`` is the sentinel path each one tries to create
ESCAPES: dict[str, str] = {
    "cycler globals": "{{ cycler.__init__.__globals__.os.system('touch {S}') }}",
    "joiner globals": "{{ joiner.__init__.__globals__.os.popen('touch {S}').read() }}",
    "namespace globals": "{{ namespace.__init__.__globals__.os.system('touch {S}') }}",
    "lipsum globals": "{{ lipsum.__globals__['os'].system('touch {S}') }}",
    "lipsum builtins import": "{{ lipsum.__globals__.__builtins__.__import__('os')"
                              ".system('touch {S}') }}",
    "range globals": "{{ range.__globals__['os'].system('touch {S}') }}",
    "str mro subclasses": "{{ ''.__class__.__mro__[1].__subclasses__()[137].__init__"
                          ".__globals__['popen']('touch {S}').read() }}",
    "tuple base subclasses": "{{ ().__class__.__base__.__subclasses__() }}",
    "dict class": "{{ {}.__class__.__base__.__subclasses__() }}",
    "template reference context": "{{ self._TemplateReference__context.cycler.__init__"
                                  ".__globals__.os.system('touch {S}') }}",
    "self dict": "{{ self.__dict__ }}",
    "attr filter": "{{ (''|attr('__class__')|attr('__mro__'))[1]|attr('__subclasses__') }}",
    "attr filter hex escapes": "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "attr filter joined name": "{{ ''|attr(['_','_cla','ss_','_']|join) }}",
    "getitem dunder": "{{ ''['__class__']['__mro__'] }}",
    "getitem hex escapes": "{{ name['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "str.format attribute walk": "{{ '{0.__class__.__mro__}'.format(name) }}",
    "str.format_map": "{{ '{a.__class__}'.format_map({'a': name}) }}",
    "format method through attr (CVE-2025-27516)": "{{ ('{0.__class__}'|attr('format'))(1) }}",
    "stored format method (CVE-2024-56326)": "{% set f = '{0.__init__.__globals__}'.format %}"
                                             "{{ f(cycler) }}",
    "format method mapped": "{{ ['{0.__class__}']|map(attribute='format')|list }}",
    "method self": "{{ name.upper.__self__.__class__ }}",
    "loop class": "{% for x in [1] %}{{ loop.__class__.__init__.__globals__ }}{% endfor %}",
    "macro globals": "{% macro m() %}{% endmacro %}{{ m.__globals__ }}",
    "caller": "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}",
    "include file": "{% include '/etc/passwd' %}",
    "import module": "{% import 'os' as os %}{{ os.system('touch {S}') }}",
    "extends": "{% extends '/etc/hostname' %}",
    "flask request": "{{ request.application.__globals__.__builtins__.__import__('os')"
                     ".popen('touch {S}').read() }}",
    "flask config": "{{ config.__class__.__init__.__globals__['os'].popen('touch {S}') }}",
    "environment dict class": "{{ env.__class__.__init__.__globals__ }}",
    "dict global": "{{ dict(a=1).__class__ }}",
    "recursive loop": "{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}",
}

#: attempts to exhaust memory or time: each is refused, quickly
BOMBS: dict[str, str] = {
    "range 10**9": "{{ range(10**9)|list }}",
    "string repetition": "{{ 'x' * 10**9 }}",
    "repetition chain": "{{ 'x' * 10000000 * 100 }}",
    "list repetition": "{{ [0] * 10**8 }}",
    "power tower": "{{ 10 ** (10 ** 10) }}",
    "center": "{{ 'x'|center(10**9) }}",
    "printf width": "{{ '%0999999999d' % 1 }}",
    "printf star width": "{{ '%*d' % (999999999, 1) }}",
    "format filter width": "{{ '%0999999999d'|format(1) }}",
    "indent": "{{ ('a\\n' * 100000)|indent(100000) }}",
    "join separator": "{{ range(99999)|join('x' * 100000) }}",
    "replace empty": "{{ ('x' * 1000000)|replace('', 'y' * 1000) }}",
    "nested loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}"
                    "{% endfor %}",
    "nested loops output": "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}"
                           "{% endfor %}",
    "constant output loop": "{% for i in range(99999) %}" + "y" * 1000 + "{% endfor %}",
    "shared list doubling": "{% set a = [1, 1] %}" + "{% set a = [a, a] %}" * 40 + "{{ a }}",
    "list multiply doubling": "{% set a = ['x'] %}" + "{% set a = a * 16 %}" * 10 + "{{ a }}",
    "concat doubling": "{% set a = 'x' * 1000000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}"
                       "{% set c = b ~ b ~ b ~ b %}{{ c|length }}",
    "plus doubling": "{% set a = 'x' * 9000000 %}{{ (a + a)|length }}",
    "70 parentheses": "{{ " + "(" * 70 + "1" + ")" * 70 + " }}",
    "300 brackets": "{{ " + "[" * 300 + "]" * 300 + " }}",
    "500 nots": "{{ " + "not " * 500 + "1 }}",
    "1000 minus signs": "{{ " + "-" * 1000 + "1 }}",
    "sum of lists": "{{ [[1] * 1000] * 1000|sum(start=[]) }}",
}

_REFUSED = re.compile(r"too large|too much work|too long|too many items|nests too deeply|"
                      r"format width|adds numbers only|Range too big")


def _payload(template: str, sentinel: Path) -> str:
    return template.replace("{S}", str(sentinel))


# ---------------------------------------------------------------- the API


@pytest.mark.parametrize("name", list(ESCAPES))
def test_escape_is_one_error_line_and_never_runs(name: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "ESCAPED"
    template = _payload(ESCAPES[name], sentinel)
    context = {"name": "web", "env": {"HOME": "/root"}, "steps": {}}
    with pytest.raises(TemplateError) as info:
        render(template, context)
    assert "\n" not in str(info.value) and info.value.message
    render_lenient(template, context)  # never raises: the plan shows what it cannot render
    assert problem(template) is not None or _fails_at_run(template, context)
    expression = template.strip().removeprefix("{{").removesuffix("}}")
    if "{%" not in template:
        with pytest.raises(TemplateError):
            evaluate(expression, context)
    assert not sentinel.exists()


def _fails_at_run(template: str, context: dict[str, object]) -> bool:
    try:
        render(template, context)
    except TemplateError:
        return True
    return False


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_is_refused_quickly(name: str) -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError) as info:
        render(BOMBS[name], {})
    assert _REFUSED.search(info.value.message), info.value.message
    assert "\n" not in info.value.message
    assert render_lenient(BOMBS[name], {}) == BOMBS[name]  # the plan shows it as written
    # a hang guard, not a benchmark: the real figure is well under a second
    assert time.monotonic() - start < 20


def test_compile_time_refusals_name_the_template_line() -> None:
    found = problem("echo ok\n{{ name }}\n{{ ''.__class__ }}\n")
    assert found is not None and found.line == 3
    assert found.message == "'__class__' is not available in runbook templates"
    macro = problem("a\nb\n{% macro m() %}{% endmacro %}")
    assert macro is not None and macro.line == 3 and "{% macro %} is not allowed" in macro.message
    unknown = problem("x\n{% if a is nosuchtest %}{% endif %}")
    assert unknown is not None and unknown.message == "unknown test 'nosuchtest'"
    typo = problem("{{ a | uper }}")
    assert typo is not None and typo.message == "unknown filter 'uper' (did you mean 'upper'?)"


def test_runtime_refusals_name_the_template_line() -> None:
    with pytest.raises(TemplateError) as info:
        render("one\ntwo {{ name }}\n{{ 'x' * 10**9 }}\n", {"name": "n"})
    assert info.value.line == 3


def test_ordinary_templates_still_work() -> None:
    context = {"hosts": ["a", "b"], "name": "Web One", "n": 3, "d": {"k": "v"},
               "steps": {"build": {"stdout": "1.2.3\n", "exit_code": 0}}}
    text = ("{% for h in hosts %}{{ h | upper }}{% if not loop.last %},{% endif %}{% endfor %} "
            "{{ name.lower().replace(' ', '-') }} {{ n * 2 }} {{ '%03d' | format(n) }} "
            "{{ d.get('k') }} {{ d.items() | list | length }} {{ name.split() | join('_') }} "
            "{{ steps.build.stdout | trim }} {{ 'a' ~ n }} {{ range(3) | sum }} "
            "{% set xs = [n, n + 1] %}{{ xs | map('string') | join(',') }} {{ name | q }}")
    assert render(text, context) == ("A,B web-one 6 003 v 1 Web_One 1.2.3 a3 3 3,4 'Web One'")
    assert evaluate("steps.build.exit_code == 0 and 'a' in hosts", context) is True


def test_report_environment_is_sandboxed(tmp_path: Path) -> None:
    from jinja2.sandbox import SecurityError

    env = report_environment(str(tmp_path))
    with pytest.raises(SecurityError):
        env.from_string("{{ x.__class__.__mro__ }}").render(x="")
    assert env.from_string("{{ r.title }}").render(r={"title": "T"}) == "T"


def test_only_the_template_package_imports_jinja2_and_only_runners_ssh_paramiko() -> None:
    importers: dict[str, list[str]] = {"jinja2": [], "paramiko": []}
    for path in sorted((ROOT / "runbook_engine").rglob("*.py")):
        text = path.read_text()
        for module, found in importers.items():
            if re.search(rf"^\s*(?:import {module}\b|from {module}\b)", text, re.M):
                found.append(str(path.relative_to(ROOT / "runbook_engine")))
    assert importers["jinja2"] and all(p.startswith("template/") for p in importers["jinja2"])
    assert importers["paramiko"] and all(p.startswith("runners/ssh/")
                                         for p in importers["paramiko"])


# ---------------------------------------------------------------- the real CLI


def _hostile_book(tmp_path: Path, sentinel: Path) -> Path:
    parts = ["# Hostile runbook\n"]
    for index, template in enumerate([*ESCAPES.values(), *BOMBS.values()]):
        parts.append(f"## Case {index}\n\n```bash\necho {_payload(template, sentinel)}\n```\n")
    mkdir = f"cycler.__init__.__globals__.os.mkdir('{sentinel}')"
    parts.append(f'## In a when\n\n<!-- runbook: when="{mkdir}" -->\n```bash\necho w\n```\n')
    parts.append(f'## In a cwd\n\n<!-- runbook: cwd="{{{{ {mkdir} }}}}" -->\n'
                 "```bash\necho c\n```\n")
    parts.append(f'## In env\n\n<!-- runbook: env="X={{{{{mkdir.replace(" ", "")}}}}}" -->\n'
                 "```bash\necho e\n```\n")
    book = tmp_path / "hostile.md"
    book.write_text("\n".join(parts))
    return book


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=600)


def test_plan_list_lint_never_execute_hostile_templates(tmp_path: Path) -> None:
    sentinel = tmp_path / "ESCAPED"
    book = _hostile_book(tmp_path, sentinel)
    for args in (["plan"], ["plan", "--format", "json"], ["plan", "--format", "markdown"],
                 ["list"], ["lint"]):
        result = _cli(*args, str(book), cwd=tmp_path)
        assert "Traceback" not in result.stdout + result.stderr, (args, result.stderr[-2000:])
        assert result.returncode == (1 if args == ["lint"] else 0), (args, result.stderr)
        assert not sentinel.exists(), args
    lint = _cli("lint", str(book), cwd=tmp_path).stdout.splitlines()
    problems = [line for line in lint if ": error: " in line]
    assert problems and all(re.match(rf"{re.escape(str(book))}:\d+:\d+: error: ", line)
                            for line in problems)
    # every code case is reported on its code line (fence + 1), not on the fence
    text = book.read_text().splitlines()
    template_lines = {i + 1 for i, line in enumerate(text) if line.startswith("echo {")}
    reported = {int(line.split(":")[1]) for line in problems if "uses variable" not in line}
    assert reported & template_lines
    assert not reported & {line - 1 for line in template_lines}


def test_run_answering_no_never_executes_hostile_templates(tmp_path: Path) -> None:
    sentinel = tmp_path / "ESCAPED"
    book = _hostile_book(tmp_path, sentinel)
    refused = _cli("run", "--yes", str(book), "--transcript", str(tmp_path / "r.jsonl"),
                   cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stdout + refused.stderr
    assert "not available in runbook templates" in refused.stderr and not sentinel.exists()
    # --force: the engine renders every hostile step; each fails or is answered n
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book), "--force",
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          cwd=str(tmp_path), env=ENV, encoding="utf-8", timeout=120,
                          dimensions=(40, 200))
    prompts = [r"\[y/n/e/a/q/\?\]", r"\[r/e/s/q/\?\]", r"Value for [^\n]*: ",
               r"to run this dangerous step", pexpect.EOF]
    answers = ["n", "s", "x", "n"]
    seen = ""
    for _ in range(500):
        index = child.expect(prompts)
        seen += child.before or ""
        if index == len(answers):
            break
        child.sendline(answers[index])
    child.close()
    seen = " ".join(seen.split())  # the terminal wraps long lines
    assert "Traceback" not in seen
    assert "not available in runbook templates" in seen and "too large" in seen
    assert not sentinel.exists()
    finished = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()
                if '"step_finished"' in line]
    assert finished and all(e["status"] in ("failed", "skipped") for e in finished)


def test_unknown_filter_is_one_line_with_the_line_inside_the_block(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text("# T\n\nSome text.\n\n```bash\necho one\necho {{ name | nosuch }}\n```\n")
    lint = _cli("lint", str(book), cwd=tmp_path)
    assert lint.returncode == 1
    assert re.search(rf"^{re.escape(str(book))}:7:1: error: step '[^']+': unknown filter 'nosuch'$",
                     lint.stdout, re.M), lint.stdout
    plan = _cli("plan", "--var", "name=x", "--format", "json", str(book), cwd=tmp_path)
    assert plan.returncode == 0 and "Traceback" not in plan.stderr
    assert [p["line"] for p in json.loads(plan.stdout)["problems"]] == [7]
    transcript = str(tmp_path / "t.jsonl")
    refused = _cli("run", "--yes", "--var", "name=x", "--transcript", transcript, str(book),
                   cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stdout + refused.stderr
    assert re.search(rf"^{re.escape(str(book))}:7: step '[^']+': unknown filter 'nosuch'$",
                     refused.stderr, re.M), refused.stderr
    forced = _cli("run", "--yes", "--force", "--var", "name=x", "--transcript", transcript,
                  str(book), cwd=tmp_path)
    assert forced.returncode == 1 and "Traceback" not in forced.stdout + forced.stderr
    assert "unknown filter 'nosuch'" in forced.stdout + forced.stderr


def test_a_secret_read_as_env_in_a_template_is_masked(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text("# T\n\n```bash\necho token={{ env.DEPLOY_API_TOKEN }} "
                    "home={{ env.HOME_FOR_TEST }}\n```\n")
    secret = "s3cr3t-v4lue-9f8e7d"
    transcript = tmp_path / "t.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", "--yes", "--transcript", str(transcript),
         str(book)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**ENV, "DEPLOY_API_TOKEN": secret, "HOME_FOR_TEST": "/home/visible"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "home=/home/visible" in result.stdout  # not secret-looking: shown
    written = result.stdout + result.stderr + transcript.read_text()
    assert secret not in written and "token=****" in result.stdout


def test_render_reports_every_env_value_it_reads() -> None:
    context = {"env": {"API_TOKEN": "t", "HOME": "/h", "UNUSED": "u"}}
    for text, names in [("{{ env.API_TOKEN }}", ["API_TOKEN"]),
                        ("{{ env['API_TOKEN'] | q }} {{ env.get('HOME') }}", ["API_TOKEN", "HOME"]),
                        ("{% for k, v in env.items() %}{{ v }}{% endfor %}",
                         ["API_TOKEN", "HOME", "UNUSED"]),
                        ("{{ env }}", ["API_TOKEN", "HOME", "UNUSED"])]:
        heard: list[str] = []
        render(text, context, on_env_read=lambda name, _value, into=heard: into.append(name))
        assert sorted(set(heard)) == names, text
