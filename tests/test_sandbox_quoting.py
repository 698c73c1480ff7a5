"""Quoting by context: hostile values reach every place a value can land as data, never as code.

A hypothesis property feeds values made of shell and SQL syntax (``$(...)``, backticks, both
quotes, backslashes, newlines, ``;``, ``EOF`` lines) into each context and really runs the
result with bash (and sqlite3) in a temporary directory: the value must arrive byte for byte,
and the sentinel file the value tries to create must never appear. A value is refused (one
TemplateError line) only where no quoting can carry it: arithmetic, a line that would end a
here-document, a tab that ``<<-`` would strip.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_engine.template import TemplateError, render, substitute_placeholders

WORK = Path(tempfile.mkdtemp(prefix="rb-quoting-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
ROOT = Path(__file__).resolve().parent.parent
SENTINEL = WORK / "RAN"
# a stand-in for ssh: like the real one it joins its words and hands them to a shell
SSH = 'ssh() { shift; bash -c "$*"; }\n'
KEEP = "; printf .)\"; printf '%s' \"${v%.}\""  # $(...) drops trailing newlines: keep them
KEEP_UNQUOTED = "; printf .); printf '%s' \"${v%.}\""

#: name -> (code with <X> writing the value to stdout, what stdout holds for value v)
CONTEXTS: dict[str, tuple[str, str]] = {
    "word": ("printf '%s' <X>", "{v}"),
    "single quotes": ("printf '%s' '<X>'", "{v}"),
    "double quotes": ("printf '%s' \"<X>\"", "{v}"),
    "ansi-c quotes": ("printf '%s' $'<X>'", "{v}"),
    "word in $(...) in double quotes": ("v=\"$(printf '%s' <X>" + KEEP, "{v}"),
    "single quotes in $(...) in double quotes": ("v=\"$(printf '%s' '<X>'" + KEEP, "{v}"),
    "double quotes in $(...)": ("v=$(printf '%s' \"<X>\"" + KEEP_UNQUOTED, "{v}"),
    "backticks": ("v=`printf '%s' <X>; printf .`; printf '%s' \"${v%.}\"", "{v}"),
    "backticks in double quotes": ("v=\"`printf '%s' <X>; printf .`\"; printf '%s' \"${v%.}\"",
                                   "{v}"),
    "default value": ("printf '%s' ${UNSET_FOR_TEST:-<X>}", "{v}"),
    "default value in double quotes": ("printf '%s' \"${UNSET_FOR_TEST:-<X>}\"", "{v}"),
    "assignment": ("v=<X>; printf '%s' \"$v\"", "{v}"),
    "here-string": ("cat <<< <X>", "{v}\n"),
    "heredoc": ("cat <<EOF\n<X>\nEOF", "{v}\n"),
    "heredoc, text around": ("cat <<EOF\nbefore <X> after\nEOF", "before {v} after\n"),
    "quoted heredoc": ("cat <<'EOF'\n<X>\nEOF", "{v}\n"),
    "heredoc <<-": ("cat <<-EOF\n\t<X>\n\tEOF", "{v}\n"),
    "bash -c '...'": ("bash -c 'printf \"%s\" <X>'", "{v}"),
    "bash -c \"...\"": ("bash -c \"printf '%s' <X>\"", "{v}"),
    "quotes inside bash -c \"...\"": ("bash -c \"printf '%s' '<X>'\"", "{v}"),
    "eval": ("eval \"printf '%s' <X>\"", "{v}"),
    "ssh remote words": (SSH + "ssh host printf '%s' <X>", "{v}"),
    "ssh remote string": (SSH + "ssh host \"printf '%s' '<X>'\"", "{v}"),
    "heredoc read by bash": ("bash <<EOF\nprintf '%s' <X>\nEOF", "{v}"),
    "quoted heredoc read by bash": ("bash <<'EOF'\nprintf '%s' \"<X>\"\nEOF", "{v}"),
    "sqlite string in a heredoc": ("sqlite3 :memory: <<EOF\nSELECT '<X>';\nEOF", "{v}\n"),
    "sqlite bare value in a quoted heredoc": ("sqlite3 :memory: <<'EOF'\nSELECT <X>;\nEOF",
                                              "{v}\n"),
    "sqlite string in an argument": ("sqlite3 :memory: \"SELECT '<X>';\"", "{v}\n"),
}

_PIECES = [
    "$(touch {s})", "`touch {s}`", "';touch {s};'", "\";touch {s};\"", "\\", "\\\\", "'", "\"",
    "$", "`", ";", "&", "|", "\n", "\t", " ", "EOF", "\nEOF\n", "\nEOF", "$HOME", "${HOME}",
    "$((1+1))", "*", "?", "[a]", "{a,b}", "~", "#", "!", "%s", "-n", "--", "<", ">", "a", "é",
    "\r", "'; DROP TABLE t; --", "\\'", "\\\"", "$'x'", "\n\t", "\\\n",
]
VALUES = st.lists(st.sampled_from(_PIECES) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=3), max_size=8).map(lambda parts: "".join(parts).replace("{s}", str(SENTINEL)))


def _may_refuse(name: str, value: str) -> bool:
    """Where a value may be refused instead of substituted: only what no quoting can carry."""
    lines = value.split("\n")
    if "heredoc" in name and any(line.lstrip("\t") == "EOF" for line in lines):
        return True
    if "<<-" in name and ("\n\t" in value or value.startswith("\t")):
        return True
    if name == "default value in double quotes" and "'" in value:
        return True
    return "bare value" in name and "$" in value  # never: listed to show nothing else is


def _expected_refusal(name: str, value: str) -> bool:
    return _may_refuse(name, value)


def _bash(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-c", script], cwd=WORK, capture_output=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(WORK), "LC_ALL": "C.UTF-8"})


def _sql_plain(value: str) -> bool:
    return bool(re.fullmatch(r"-?[0-9]+(?:\.[0-9]+)?|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", value))


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="sqlite3 not installed")
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
def test_hostile_values_arrive_as_data_in_every_context(value: str) -> None:
    scripts: dict[str, str] = {}
    for name, (code, _) in CONTEXTS.items():
        if "bare value" in name and _sql_plain(value):
            continue  # numbers and identifiers are written as they are, by design
        try:
            scripts[name] = substitute_placeholders(code, {"X": value})
        except TemplateError as exc:
            assert _may_refuse(name, value), (name, value, str(exc))
            assert "<X>" in str(exc) and "\n" not in str(exc)
    # one bash for every context: each in its own subshell, writing its own file
    names = list(scripts)
    batch = "".join(f"(\n{scripts[n]}\n) > out.{k} 2> err.{k}\n" for k, n in enumerate(names))
    _bash(batch)
    assert not SENTINEL.exists(), (value, batch)
    for k, name in enumerate(names):
        # the sqlite3 shell reads its input's CRLF as a line end: its own habit, not ours
        crlf = "sqlite" in name and "heredoc" in name
        want = CONTEXTS[name][1].format(v=value.replace("\r\n", "\n") if crlf else value)
        got = (WORK / f"out.{k}").read_bytes().decode("utf-8", "surrogateescape")
        assert got == want, (name, value, scripts[name], (WORK / f"err.{k}").read_text())


@given(value=VALUES)
@settings(max_examples=60, deadline=None)
def test_q_filter_quotes_for_where_it_lands(value: str) -> None:
    code = ("cat <<EOF\n{{ v | q }}\nEOF\nprintf '%s|' {{ v | q }} \"{{ v | q }}\" "
            "'{{ v | q }}' \"$(printf '%s' {{ v | q }})\"")
    try:
        script = render(code, {"v": value})
    except TemplateError:
        assert any(line == "EOF" for line in value.split("\n"))
        return
    result = _bash(script)
    assert not SENTINEL.exists()
    trailing = value.rstrip("\n")  # $(...) drops trailing newlines
    want = f"{value}\n{value}|{value}|{value}|{trailing}|"
    assert result.stdout.decode("utf-8", "surrogateescape") == want, (script, result.stderr)


# ---------------------------------------------------------------- examples


def test_the_reported_heredoc_injection_is_data_now() -> None:
    script = substitute_placeholders("cat <<EOF\nhello <NAME>\nEOF",
                                     {"NAME": f"$(touch {SENTINEL})"})
    assert _bash(script).stdout.decode() == f"hello $(touch {SENTINEL})\n"
    assert not SENTINEL.exists()


@pytest.mark.parametrize("code", ["cat <<EOF\n<X>\nEOF", "cat <<'EOF'\n<X>\nEOF",
                                  "bash <<EOF\necho <X>\nEOF"])
def test_a_line_that_ends_the_heredoc_is_refused(code: str) -> None:
    with pytest.raises(TemplateError, match=r"<X> has a line that would end the here-document"):
        substitute_placeholders(code, {"X": f"x\nEOF\ntouch {SENTINEL}"})


@pytest.mark.parametrize("code", ["echo $(( <X> + 1 ))", "(( <X> > 2 ))", "[[ <X> -eq 1 ]]",
                                  "echo ${arr[<X>]}", "echo ${s:<X>}", "let n=<X>"])
def test_arithmetic_takes_numbers_only(code: str) -> None:
    assert "42" in substitute_placeholders(code, {"X": "42"})
    with pytest.raises(TemplateError, match="arithmetic"):
        substitute_placeholders(code, {"X": f"a[$(touch {SENTINEL})]"})


def test_associative_array_keys_are_words() -> None:
    code = "declare -A m=([k]=v); m[<K>]=x; printf '%s' \"${m[<K>]}\""
    script = substitute_placeholders(code, {"K": f"a b $(touch {SENTINEL})"})
    assert _bash(script).stdout == b"x" and not SENTINEL.exists()


def test_code_in_other_languages_takes_plain_values_only() -> None:
    assert substitute_placeholders("python3 -c 'print(<N>)'", {"N": "42"}) == \
        "python3 -c 'print(42)'"
    with pytest.raises(TemplateError, match="cannot quote for"):
        substitute_placeholders("python3 -c 'print(<N>)'", {"N": "__import__('os')"})
    with pytest.raises(TemplateError, match="cannot quote for"):
        substitute_placeholders("print('<N>')", {"N": "x'); y('"}, interpreter="python3")


def test_sql_steps_quote_for_their_client() -> None:
    code = "SELECT * FROM users WHERE name = '<NAME>' AND id = <ID> LIMIT <N>;"
    values = {"NAME": "o'brien \\", "ID": "1; DROP TABLE users", "N": "5"}
    assert substitute_placeholders(code, values, interpreter="psql -h db") == (
        "SELECT * FROM users WHERE name = 'o''brien \\' AND id = '1; DROP TABLE users' LIMIT 5;")
    assert substitute_placeholders(code, values, interpreter="mysql -u app") == (
        "SELECT * FROM users WHERE name = 'o''brien \\\\' AND id = '1; DROP TABLE users' "
        "LIMIT 5;")
    assert substitute_placeholders('SELECT "<COL>" FROM t', {"COL": 'a"b'},
                                   interpreter="psql") == 'SELECT "a""b" FROM t'
    with pytest.raises(TemplateError, match="dollar|\\$"):
        substitute_placeholders("DO $$ BEGIN RAISE NOTICE '<M>'; END $$;", {"M": "$$; x"},
                                interpreter="psql")


def test_a_value_inside_a_local_expansion_of_remote_code_is_refused() -> None:
    with pytest.raises(TemplateError, match="cannot be quoted"):
        substitute_placeholders('ssh host "echo $(cat <F>)"', {"F": "a;b"})


def test_plan_shows_what_it_cannot_quote_as_written() -> None:
    code = "echo $(( <X> + 1 ))"
    assert substitute_placeholders(code, {"X": "a b"}, lenient=True) == code


# ---------------------------------------------------------------- through the real CLI


def _run(tmp_path: Path, book: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "book.md"
    path.write_text(book)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args, str(path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_run_keeps_a_hostile_var_in_a_heredoc_as_data(tmp_path: Path) -> None:
    sentinel = tmp_path / "RAN"
    book = "# T\n\n```bash\ncat <<EOF > out.txt\nhello <NAME>\nEOF\n```\n"
    value = f"$(touch {sentinel}) `touch {sentinel}` \\ '\""
    result = _run(tmp_path, book, "run", "--yes", "--transcript", str(tmp_path / "t.jsonl"),
                  "--var", f"NAME={value}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out.txt").read_text() == f"hello {value}\n"
    assert not sentinel.exists()
    plan = _run(tmp_path, book, "plan", "--format", "json", "--var", f"NAME={value}")
    shown = json.loads(plan.stdout)["steps"][0]["code"]
    assert f"hello \\$(touch {sentinel})" in shown  # the plan shows the command that will run


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="sqlite3 not installed")
def test_a_sql_console_step_gets_sql_literals(tmp_path: Path) -> None:
    book = ("# T\n\n<!-- runbook: interpreter=\"sqlite3 :memory:\" -->\n"
            "```sql\nSELECT '<NAME>' || '|' || <LIMIT>;\n```\n")
    value = "it's'; SELECT 'INJECTED"
    result = _run(tmp_path, book, "run", "--yes", "--transcript", str(tmp_path / "t.jsonl"),
                  "--var", f"NAME={value}", "--var", "LIMIT=5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{value}|5" in result.stdout
    assert not re.search(r"^INJECTED", result.stdout, re.M)
