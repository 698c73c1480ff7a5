"""A block that only logs in (``ssh host``) opens a session for the next blocks of its section."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

BOOK = """# Check the replica

## On the replica

Log in to the replica:

```bash
ssh testhost
```

Then see who you are there and move to the scratch folder:

```bash
echo "REMOTE-USER=$(id -un) VIA=${SSH_CONNECTION:+ssh}"
cd /tmp
```

The working directory carries on in the same session:

```bash
echo "REMOTE-CWD=$(pwd)"
```

```bash
exit
```

```bash
echo "AFTER-EXIT VIA=${SSH_CONNECTION:-local}"
```

## Back home

```bash
echo "HOME-SECTION VIA=${SSH_CONNECTION:-local}"
```
"""


def plan(book: Path) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(book), "--format",
                           "json"], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["steps"]  # type: ignore[no-any-return]


def test_the_plan_sends_the_next_blocks_of_the_section_to_the_host(tmp_path: Path) -> None:
    book = tmp_path / "replica.md"
    book.write_text(BOOK)
    where = {str(s["code"]).strip().splitlines()[0]: s["targets"] for s in plan(book)}
    assert where['echo "REMOTE-USER=$(id -un) VIA=${SSH_CONNECTION:+ssh}"'] == ["testhost"]
    assert where['echo "REMOTE-CWD=$(pwd)"'] == ["testhost"]
    assert where["exit"] == ["testhost"]  # the session ends with it
    assert where['echo "AFTER-EXIT VIA=${SSH_CONNECTION:-local}"'] == ["local"]
    assert where['echo "HOME-SECTION VIA=${SSH_CONNECTION:-local}"'] == ["local"]
    # the login is a check that the host answers, not a local ssh handing over the terminal
    login = where["# ssh testhost: the next steps of this section run there"]
    assert login == ["testhost"]


def test_prose_that_moves_elsewhere_ends_the_session(tmp_path: Path) -> None:
    book = tmp_path / "moves.md"
    book.write_text("# T\n\n```bash\nssh deploy@web-7\n```\n\n```bash\nsystemctl status app\n```"
                    "\n\nBack on your laptop, fetch the dump:\n\n```bash\nls -l dump.sql\n```\n")
    targets = {str(s["code"]).strip().splitlines()[-1]: s["targets"] for s in plan(book)}
    assert targets["systemctl status app"] == ["deploy@web-7"]
    assert targets["ls -l dump.sql"] == ["local"]


def test_the_session_runs_over_ssh_end_to_end(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "replica.md"
    book.write_text(BOOK)
    done = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", str(book), "--yes", "--ssh-config",
         str(sshd_server.ssh_config), "--transcript", str(tmp_path / "t.jsonl")],
        capture_output=True, text=True, env=ENV, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"REMOTE-USER={sshd_server.user} VIA=ssh" in done.stdout
    assert "REMOTE-CWD=/tmp" in done.stdout
    assert "AFTER-EXIT VIA=local" in done.stdout and "HOME-SECTION VIA=local" in done.stdout


def test_a_remote_bash_error_names_the_runbook_line(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "remote.md"
    book.write_text("# T\n\n```bash {#broken target=testhost}\necho before\nno-such-command-rb11\n"
                    "```\n")
    done = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", str(book), "--yes", "--ssh-config",
         str(sshd_server.ssh_config), "--transcript", str(tmp_path / "t.jsonl")],
        capture_output=True, text=True, env=ENV, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "remote.md:5 (line 2 of step broken): no-such-command-rb11: command not found" in said
    assert "bash: line" not in said
