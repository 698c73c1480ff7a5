"""`runbook lint --strict` for CI: warnings fail, and local steps' programs must exist here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}

BOOK = """# Rotate the widget cache

```bash
reload_widgets() { systemctl reload widgets; }
```

Then, on the box itself:

```bash
frobnicate-widgets --all --since 1h
reload_widgets
echo done
```

```bash {on=web1}
only-on-the-web-host --check
```
"""


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "lint", *args],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)


def test_strict_names_each_missing_program_at_its_line(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(BOOK)
    plain = lint(str(book))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "frobnicate" not in plain.stdout
    strict = lint("--strict", str(book))
    assert strict.returncode == 1
    assert f"{book}:10:1: warning: frobnicate-widgets: not found on this machine" in strict.stdout
    # a function the runbook defines and a builtin are not programs; a remote step's programs
    # are the remote host's business
    assert "reload_widgets" not in strict.stdout and "echo" not in strict.stdout
    assert "only-on-the-web-host" not in strict.stdout


def test_strict_fails_on_warnings_that_plain_lint_lets_pass(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text("# T\n\n```bash {#a timout=5}\necho x\n```\n")
    plain = lint(str(book))
    assert plain.returncode == 0 and "warning" in plain.stdout, plain.stdout
    assert lint("--strict", str(book)).returncode == 1


def test_the_bundled_books_pass_strict_where_their_tools_are_installed() -> None:
    books = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "books").glob("*.md"))
    result = lint("--strict", "--format", "json", *books)
    problems = json.loads(result.stdout)["problems"]
    # the only thing --strict may find in them: a tool this machine lacks (psql, lsof, ...)
    lacking = [p for p in problems if p["code"] == "RB230"
               and shutil.which(p["message"].split(":")[0]) is None]
    assert problems == lacking, problems
    assert result.returncode == (1 if lacking else 0)
