"""Parser tests: Markdown fixtures in, expected JSON out; error messages; seeds; fuzzing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_engine.model import LoadError, Runbook, RunbookError
from runbook_engine.parse import load_runbook, parse_text
from runbook_engine.parse.annotations import parse_comment, parse_duration, parse_info

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
SEEDS = Path("/work/shared/seeds")
STEP_FIELDS = ("id", "title", "section", "line", "lang", "kind", "code", "on", "needs", "confirm",
               "capture", "timeout", "tags", "parent", "choice", "interpreter")
# fields shown only when they differ from the Step default (keeps the fixtures readable)
OPTIONAL_FIELDS = ("description", "danger", "interactive", "exclude_from_run_all", "secret",
                   "expect", "expect_exit", "retries", "delay", "until", "continue_on_error",
                   "cwd", "env", "shell", "sudo", "user", "serial", "max_fail", "when",
                   "expected_output", "extra")
_DEFAULTS: dict[str, Any] = {"description": "", "danger": None, "interactive": False,
                             "exclude_from_run_all": False, "secret": False, "expect": None,
                             "expect_exit": 0, "retries": 0, "delay": 0.0, "until": False,
                             "continue_on_error": False, "cwd": None, "env": (), "shell": None,
                             "sudo": False, "user": None, "serial": None, "max_fail": None,
                             "when": None, "expected_output": None, "extra": {}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def runbook_to_dict(rb: Runbook) -> dict[str, Any]:
    """The important fields of a parsed runbook, as JSON-able data."""
    steps = []
    for step in rb.steps:
        row = {name: _jsonable(getattr(step, name)) for name in STEP_FIELDS}
        for name in OPTIONAL_FIELDS:
            value = getattr(step, name)
            if value != _DEFAULTS[name]:
                row[name] = _jsonable(value if name != "extra" else dict(value))
        steps.append(row)
    return {
        "title": rb.title,
        "description": rb.description,
        "tags": list(rb.tags),
        "granularity": rb.granularity,
        "vars": [_jsonable(vars(v)) for v in rb.vars],
        "hosts": {name: [_jsonable(vars(h)) for h in hosts] for name, hosts in rb.hosts.items()},
        "defaults": _jsonable(dict(rb.defaults)),
        "engines": dict(rb.engines),
        "problems": [{"severity": p.severity, "line": p.line, "code": p.code,
                      "message": p.message} for p in rb.problems],
        "steps": steps,
    }


FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.md"))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture(name: str) -> None:
    source = FIXTURES / f"{name}.md"
    got = runbook_to_dict(load_runbook(source))
    expected_file = FIXTURES / f"{name}.json"
    if os.environ.get("UPDATE_FIXTURES"):
        expected_file.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(expected_file.read_text())
    assert got == expected


def test_fixture_set_is_complete() -> None:
    assert len(FIXTURE_NAMES) >= 9
    for name in FIXTURE_NAMES:
        assert (FIXTURES / f"{name}.json").exists(), name


# ---- errors with their exact messages ------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.md"
    with pytest.raises(LoadError) as err:
        load_runbook(path)
    assert str(err.value) == f"{path}: no such file"
    assert err.value.exit_code == 2


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("# Caf\xe9\n".encode("latin-1"))
    with pytest.raises(LoadError) as err:
        load_runbook(path)
    assert str(err.value) == f"{path}: not UTF-8 text"


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(LoadError, match="not UTF-8 text"):
        load_runbook(path)


def test_broken_yaml_reports_file_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: ok\nvars:\n  a: [1, 2\n  b: 3\n---\n# Body\n")
    with pytest.raises(LoadError) as err:
        load_runbook(path)
    message = str(err.value)
    assert message.startswith(f"{path}:5: front matter: ")
    assert "expected ',' or ']'" in message


def test_front_matter_must_be_a_mapping() -> None:
    with pytest.raises(LoadError) as err:
        parse_text("---\n- a\n- b\n---\n", "x.md")
    assert str(err.value) == "x.md:2: front matter: expected a mapping, got list"


def test_too_large_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NUL bytes, no disk used
    with pytest.raises(LoadError, match=r"too large \(50\.0 MB; the limit is 16 MB\)"):
        load_runbook(path)


def test_sha256_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.md"
    data = b"\xef\xbb\xbf# T\r\n\r\n```bash\r\necho hi\r\n```\r\n"
    path.write_bytes(data)
    rb = load_runbook(path, "block")
    import hashlib

    assert rb.sha256 == hashlib.sha256(data).hexdigest()
    assert rb.title == "T"
    assert rb.steps[0].code == "echo hi\n"
    assert rb.steps[0].line == 3


def test_bad_granularity_argument() -> None:
    with pytest.raises(LoadError, match="granularity must be auto, block or command"):
        parse_text("# x\n", granularity="line")


def test_title_falls_back_to_file_name() -> None:
    assert parse_text("no heading\n", "books/db-restore.md").title == "db-restore"
    assert parse_text("---\ntitle: From FM\n---\n# H1\n").title == "From FM"


def test_front_matter_problems_have_lines() -> None:
    text = ("---\nhots: {}\nvars:\n  ok: 1\n  bad: {pattern: '(', default: x}\n"
            "hosts:\n  a: host:99999\n  b: {host: x, prot: 22}\ndefaults: {timout: 5}\n---\n")
    got = [(p.line, p.severity, p.code, p.message) for p in parse_text(text, "fm.md").problems]
    assert got == [
        (2, "warning", "RB201", 'unknown front matter key "hots" (did you mean "hosts"?)'),
        (5, "error", "RB202", "variable bad: bad pattern: missing ), unterminated subpattern "
                              "at position 0"),
        (7, "error", "RB202", "host a: port 99999 out of range"),
        (8, "error", "RB202", "host b: unknown key 'prot' (did you mean \"port\"?)"),
        (9, "warning", "RB101", 'unknown attribute "timout" (did you mean "timeout"?)'),
    ]


def test_yaml_one_two_booleans() -> None:
    rb = parse_text("---\ndefaults: {on: web, sudo: yes}\nvars: {answer: no}\n---\n```sh\nx\n```\n")
    assert rb.steps[0].on == ("web",) and rb.steps[0].sudo is True
    assert rb.vars[0].default == "no"


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["---", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(LoadError, match="expands to more than"):
        parse_text("\n".join([*lines, "tags: *i", "---", ""]), "bomb.md")


# ---- annotations ----------------------------------------------------------------------------


def test_parse_info_pandoc() -> None:
    lang, attrs, problems = parse_info('bash {#a .t1 timeout=5m on="web db" confirm}', "p", 3)
    assert (lang, problems) == ("bash", [])
    assert attrs == {"id": "a", "tags": ("t1",), "timeout": 300.0, "on": ("web", "db"),
                     "confirm": True}


def test_parse_info_runme_maps_keys() -> None:
    lang, attrs, problems = parse_info(
        'sh {"name":"x","excludeFromRunAll":"true","interactive":"false","tag":"a,b",'
        '"ignore":"true","background":"false"}', "p", 1)
    assert lang == "sh" and problems == []
    assert attrs == {"id": "x", "exclude_from_run_all": True, "interactive": False,
                     "tags": ("a", "b"), "kind": "doc"}


def test_unknown_attribute_did_you_mean() -> None:
    _lang, attrs, problems = parse_info("bash {captur=x}", "book.md", 7)
    assert attrs["extra"] == {"captur": "x"}
    assert [(p.severity, p.line, p.code, p.message) for p in problems] == [
        ("warning", 7, "RB101", 'unknown attribute "captur" (did you mean "capture"?)')]


def test_bad_value_is_a_problem_not_an_exception() -> None:
    _lang, attrs, problems = parse_info("bash {retries=lots}", "book.md", 2)
    assert "retries" not in attrs
    assert problems[0].severity == "error" and problems[0].code == "RB102"
    assert problems[0].message == "bad value for retries: 'lots': not a whole number"


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("90", 90.0), (12, 12.0), ("1h30m", 5400.0),
    ("250ms", 0.25)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", "5x", "", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_comment() -> None:
    assert parse_comment("<!-- plain -->") is None
    parsed = parse_comment("<!-- runbook: #id confirm=\"Sure?\" safe -->")
    assert parsed == ({"id": "id", "confirm": "Sure?", "danger": False}, [])


# ---- behaviour on real and generated documents ----------------------------------------------


def test_command_granularity_argument_overrides_front_matter() -> None:
    text = "---\ndefaults: {granularity: command}\n---\n```console\n$ a\n$ b\n```\n"
    assert [s.code for s in parse_text(text).steps] == ["a", "b"]
    block = parse_text(text, granularity="block")
    assert block.granularity == "block"
    assert [s.code for s in block.steps] == ["a\nb\n"]


def test_command_granularity_shell_block() -> None:
    text = ("# T\n\n```bash {#blk timeout=5 capture=v}\n# First\necho a\necho b\n```\n\n"
            "```bash\nx\n```\n")
    steps = parse_text(text, granularity="command").steps
    mine = [s for s in steps if s.parent == "blk"]
    assert mine and len({s.id for s in steps}) == len(steps)
    assert mine[-1].id == "blk"  # the block's explicit id lives on in its last command
    assert all(s.timeout == 5.0 and s.section == ("T",) for s in mine)
    assert [s.capture for s in mine][-1] == "v" and all(s.capture is None for s in mine[:-1])
    assert mine[0].line in (4, 5)  # the comment or the first command, right after the fence
    assert "echo a" in mine[0].code and "echo b" in mine[-1].code
    assert steps[-1].parent is not None and steps[-1].line == 10


seeds = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []


@pytest.mark.skipif(not seeds and not os.environ.get("CI"), reason="no ../shared/seeds here")
@pytest.mark.parametrize("granularity", ["block", "command", "auto"])
def test_seeds_parse(granularity: str) -> None:
    assert len(seeds) == 5
    for seed in seeds:
        rb = load_runbook(seed, granularity)
        assert len(rb.steps) > 10, seed
        assert [s.index for s in rb.steps] == list(range(1, len(rb.steps) + 1))
        lines = seed.read_text().split("\n")
        for step in rb.steps:
            if step.kind == "manual" and not step.code:
                assert "[" in lines[step.line - 1], (seed, step.line)
            elif step.kind == "manual":  # code left to the operator: the line holds its code
                assert step.code.split("\n")[0].strip() in lines[step.line - 1], (seed, step)
            elif step.parent is None:
                assert lines[step.line - 1].lstrip().startswith(("```", "~~~")), (seed, step)


def test_seed_builder_guide_shape() -> None:
    seed = SEEDS / "000_354c440e5cc73968.txt"
    if not seed.exists():
        pytest.skip("no seeds")
    rb = load_runbook(seed, "block")
    first = rb.steps[0]
    assert (first.id, first.title, first.line, first.kind) == (
        "clone-and-install", "Clone and Install", 13, "shell")
    assert first.section == ("Runbook - Builder API Operations Guide", "Local Development Setup",
                             "Setup Steps")
    manual = [s.title for s in rb.steps if s.kind == "manual"]
    assert manual[0] == "All tests passing (npm test)" and len(manual) == 6
    assert all(s.kind == "doc" for s in rb.steps if s.lang == "sql")


def _check_parse(text: str, granularity: str | None = None) -> None:
    """Parse; only our own error may escape, and what comes out is consistent."""
    try:
        rb = parse_text(text, "fuzz.md", granularity)
    except RunbookError:
        return
    last_line = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    assert [s.index for s in rb.steps] == list(range(1, len(rb.steps) + 1))
    assert all(1 <= s.line <= last_line for s in rb.steps)
    assert all(s.id for s in rb.steps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("`~-#*[]{}()<>!=\"' \n\t:$x1ab.,\\|_\u00e9\x00")),
               max_size=400))
def test_fuzz_markdownish_text(text: str) -> None:
    _check_parse(text, "block")
    _check_parse(text, "command")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_any_text(text: str) -> None:
    for prefix in ("", "---\n", "```bash {", "```console\n$ "):
        _check_parse(prefix + text)


def test_bad_fleet_values_and_ordinary_comments() -> None:
    rb = parse_text("# T\n\n<!-- Runbook owner: platform -->\n"
                    "```bash {#a max_fail=lots serial=-2 retries=-1}\necho\n```\n")
    messages = [p.message for p in rb.problems]
    assert any("max_fail" in m for m in messages) and any("serial" in m for m in messages)
    assert any("retries" in m and "negative" in m for m in messages)
    assert not any(p.code in ("RB101", "RB103") for p in rb.problems)  # the comment is ignored


def test_a_typo_in_a_var_spec_is_reported_not_swallowed() -> None:
    rb = parse_text("---\nvars:\n  ticket:\n    pattern: '^INC-[0-9]+$'\n    requried: true\n"
                    "---\n# T\n")
    (problem,) = [p for p in rb.problems if p.code == "RB203"]
    assert "requried" in problem.message and '"required"' in problem.message
    assert problem.line == 3 and rb.var("ticket").pattern == "^INC-[0-9]+$"
