"""A plain, unannotated runbook in the seeds' style runs end to end in command granularity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLAIN = """# Builder API: quick checks

## Service

1. **Is the service running?**
```bash
# Check the folder exists
test -d /tmp && echo ALT-FIRST-RAN
# Or
echo ALT-SECOND-RAN
```

2. **Health check**
```bash
echo '{{"status":"ok"}}'
# Expected response
{{"status": "ok", "uptime": 12}}
```

3. **Look at the process**
```bash
# Show the process
ps -p <PID> -o pid= | tr -d ' '
```

## Server

4. **Check the deployment**
```bash
ssh testhost
cd /tmp
echo "REMOTE-USER=$(id -un)"
echo "REMOTE-CWD=$(pwd)"
```

## Database

5. **Count the rows**
```bash
sqlite3 {db}
CREATE TABLE IF NOT EXISTS t (x INTEGER);
INSERT INTO t VALUES (40), (2);
SELECT 'SUM=' || sum(x) FROM t;
```

## Afterwards

- [ ] Update the status page
"""


@pytest.mark.skipif(shutil.which("sqlite3") is None and os.environ.get("CI") != "true",
                    reason="sqlite3 not installed")
def test_plain_runbook_runs_end_to_end(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "plain.md"
    book.write_text(PLAIN.format(db=tmp_path / "e2e.db"))
    transcript = tmp_path / "t.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

    plan = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(book),
                           "--granularity", "command", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["steps"]
    choices = [s["choice"] for s in steps if s["choice"]]
    assert len(choices) == 2 and len(set(choices)) == 1
    remote = [s for s in steps if s["targets"] == ["testhost"]]
    assert len(remote) == 3 and not any("ssh testhost" in s["code"] for s in steps)
    fed = [s for s in steps if s["interpreter"]]  # one step per statement, each fed
    assert len(fed) == 3 and all(s["interpreter"].startswith("sqlite3") for s in fed)
    assert "PID" in next(s for s in steps if "ps -p" in s["code"])["placeholders"]

    result = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", str(book), "--granularity", "command",
         "--yes", "--var", f"PID={os.getpid()}", "--ssh-config", str(sshd_server.ssh_config),
         "--transcript", str(transcript)],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ALT-FIRST-RAN" in out and "ALT-SECOND-RAN" not in out  # --yes takes the first
    assert str(os.getpid()) in out  # the placeholder, substituted
    assert f"REMOTE-USER={sshd_server.user}" in out  # ran over SSH as the test user
    assert "REMOTE-CWD=/tmp" in out  # cd carried over on the remote session
    assert "SUM=42" in out  # SQL fed to the sqlite3 console
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    commands = " ".join(e.get("command", "") for e in events if e["event"] == "step_started")
    assert '"uptime": 12' not in commands  # the expected output was never executed
    finished = events[-1]
    assert finished["event"] == "run_finished" and finished["status"] == "ok"
    assert any("status page" in item for item in finished["open_items"])
