"""The commands' own words in a real pty: plan reads like a procedure, lint says when command
granularity reads a block right, `--var` typos are warned about, `run --help` lists the prompt
keys, and bash's errors name the runbook's line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pexpect
from ptyrun import ENV, FAIL_PROMPT, STEP_PROMPT, book, dialog, events, finished, shown, spawn


def _done(child: pexpect.spawn) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, shown(child)


def test_plan_shows_breadcrumbs_once_and_only_other_targets(tmp_path: Path) -> None:
    path = book(tmp_path, "---\nhosts:\n  web: [web1]\n---\n# Book\n\n## Checks\n\n"
                          "```bash {#one}\necho 1\n```\n\n```bash {#two}\necho 2\n```\n\n"
                          "## Fix\n\n```bash {#three on=web}\necho 3\n```\n")
    code, text = _done(spawn(path, tmp_path=tmp_path, command="plan"))
    assert code == 0
    assert "steps run on local unless they say otherwise" in text  # the default, once
    assert text.count("Book › Checks") == 1 and text.count("Book › Fix") == 1
    assert "  on local" not in text and "\non local" not in text
    assert re.search(r"3\. Fix  #three  line \d+  on web\n", text), text


def test_lint_suggests_command_granularity_for_a_client_block(tmp_path: Path) -> None:
    path = book(tmp_path, "---\nvars:\n  a: 1\n---\n# T\n\n```bash\npsql \"$DATABASE_URL\"\n"
                          "SELECT count(*) FROM users;\n```\n")
    code, text = _done(spawn(path, tmp_path=tmp_path, command="lint"))
    assert code == 1  # SELECT count(*) read as shell is a syntax error ...
    assert re.search(r"book\.md:9:1: error: shell syntax: .*\(`--granularity command` parses "
                     r"it\)\n", text), text  # ... that command granularity resolves
    assert re.search(r"book\.md:9:1: info: block '\S+' runs as one shell script, so the lines "
                     r"meant for psql .* would run as shell: `--granularity command` feeds them "
                     r"to it\n1 runbook\(s\)", text), text


def test_the_readme_lint_command_exits_0(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    books = sorted(str(p) for p in (*root.glob("books/*.md"), *root.glob("examples/*.md")))
    lint = spawn(Path(books[0]), *books[1:], tmp_path=tmp_path, command="lint")
    code, text = _done(lint)
    assert code == 0, text
    assert "0 error(s)" in text


def test_an_unused_var_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho \"{{ name }}\"\n```\n")
    plan = spawn(path, "--var", "nmae=x", "--var", "name=y", tmp_path=tmp_path, command="plan")
    code, text = _done(plan)
    assert code == 0 and "warning: --var nmae: nothing in" in text
    assert "--var name:" not in text
    run = spawn(path, "--var", "nmae=x", "--var", "name=y", "--yes", tmp_path=tmp_path)
    code, text = _done(run)
    assert code == 0 and "warning: --var nmae: nothing in" in text


def test_plan_and_run_agree_when_a_selection_matches_nothing(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n## A\n\n```bash {#one}\necho 1\n```\n")
    for flag in (("--tag", "nope"), ("--section", "nowhere")):
        plan_code, _ = _done(spawn(path, *flag, tmp_path=tmp_path, command="plan"))
        run_code, _ = _done(spawn(path, *flag, "--yes", tmp_path=tmp_path))
        assert plan_code == run_code == 2


def test_run_help_lists_the_keys_of_every_prompt(tmp_path: Path) -> None:
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", "--help"],
                          encoding="utf-8", env={**ENV, "COLUMNS": "100"})
    child.expect(pexpect.EOF)
    text = child.before.replace("\r\n", "\n")
    for heading in ("At each step [y/n/e/a/q/?]", "At a dangerous step (type its id)",
                    "After a failure [r/e/s/q/?]", "At a manual step [d/n/s/q/?]"):
        assert heading in text
    assert "  a  run this and all remaining steps" in text
    assert "  ID  type the step's id to run it" in text


def test_bash_errors_name_the_runbook_line_not_the_wrapper(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#broken}\necho before\nno-such-command-rb11\n```\n\n"
                          "```bash {#elsewhere cwd=/nonexistent-rb11}\necho x\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    dialog(child, (STEP_PROMPT, "y"), (FAIL_PROMPT, "s"), (STEP_PROMPT, "y"), (FAIL_PROMPT, "s"))
    code, text = _done(child)
    assert re.search(r"book\.md:5 \(line 2 of step broken\): no-such-command-rb11: command not "
                     r"found", text), text
    assert re.search(r"book\.md:8 \(setting up step elsewhere\): cd: /nonexistent-rb11", text)
    assert "/script" not in text and "bash: line" not in text
    outputs = [e["text"] for e in events(tmp_path) if e["event"] == "output"]
    assert any("book.md:5 (line 2 of step broken)" in t for t in outputs)  # the record too
    assert finished(tmp_path) == {"broken": "failed", "elsewhere": "failed"}
