"""Secrets never written in clear: a run with every way a secret arrives, then a scan of every
byte the tool wrote (terminal, transcript, side files, reports in every format, temp files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# each value is built at run time, so the runbook's own text never holds it
CAPTURED = "capSECRETa1"  # capture=tok secret
EXPORTED = "expSECRETb2"  # export API_TOKEN=... (and printed in the same step)
OUTPUT = "outSECRETc3"  # db_password=... to $RUNBOOK_OUTPUT (printed in the same step)
DECLARED = "decSECRETd4"  # session_cookie (declared secret: true) through a heredoc
FLAGGED = "flgSECRETe5"  # plain name, written by a step marked secret
ENVIRON = "envSECRETf6"  # SERVICE_API_KEY in the environment, read without $ and as env.X
SECRETS = (CAPTURED, EXPORTED, OUTPUT, DECLARED, FLAGGED, ENVIRON)

BOOK = """---
title: secret scan
vars:
  session_cookie: {secret: true}
---

# Secrets

```bash {id=cap capture=tok secret}
printf 'cap%s\\n' SECRETa1
```

```bash {id=exp}
export API_TOKEN=$(printf 'exp%s' SECRETb2)
echo "now $API_TOKEN"
printenv API_TOKEN
```

```bash {id=out}
v=$(printf 'out%s' SECRETc3)
echo "db_password=$v" >> "$RUNBOOK_OUTPUT"
{ echo 'session_cookie<<EOF'; printf 'dec%s\\n' SECRETd4; echo EOF; } >> "$RUNBOOK_OUTPUT"
echo "leak $v and $(printf 'dec%s' SECRETd4)"
```

```bash {id=flagged secret}
w=$(printf 'flg%s' SECRETe5)
echo "plain=$w" >> "$RUNBOOK_OUTPUT"
echo "leak $w" >&2
```

```bash {id=env}
printenv SERVICE_API_KEY
env | grep SERVICE_API
```

```bash {id=envx}
echo "{{ env.SERVICE_API_KEY }}"
```

```bash {id=big}
for i in $(seq 40000); do echo "line $i of filler text to spill past one MiB"; done
echo "late $API_TOKEN {{ tok }}"
```

```bash {id=last}
echo "{{ tok }} {{ db_password }} {{ session_cookie }} {{ plain }} $API_TOKEN"
test -e ok-now
```
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb",
            "COLUMNS": "200", "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"),
            "SERVICE_API_KEY": ENVIRON, **extra}


def _runbook(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], cwd=tmp_path,
                          env=_env(tmp_path, **env), capture_output=True, timeout=180,
                          check=False)


def _leaks(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in data]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every byte written by a run that fails at its last step, its resume with the secrets
    given again, and the reports in every format."""
    tmp_path = tmp_path_factory.mktemp("scan")
    (tmp_path / "book.md").write_text(BOOK, encoding="utf-8")
    written: dict[str, bytes] = {}
    first = _runbook(tmp_path, "run", "--yes", "book.md", "--transcript", "t.jsonl")
    written["first run (terminal)"] = first.stdout + first.stderr
    assert first.returncode == 1, first.stderr
    (tmp_path / "ok-now").write_text("")
    again = _runbook(tmp_path, "run", "--yes", "book.md", "--resume", "t.jsonl",
                     "--var", f"tok={CAPTURED}", "--var", f"db_password={OUTPUT}",
                     "--var", f"session_cookie={DECLARED}", "--var", f"plain={FLAGGED}",
                     API_TOKEN=EXPORTED)
    written["resume (terminal)"] = again.stdout + again.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    for fmt in ("markdown", "html", "json", "notebook"):
        done = _runbook(tmp_path, "transcript", "t.jsonl", "--format", fmt, "-o", f"r.{fmt}")
        assert done.returncode == 0, done.stderr
        written[f"transcript --format {fmt} (terminal)"] = done.stdout + done.stderr
        shown = _runbook(tmp_path, "transcript", "t.jsonl", "--format", fmt)
        written[f"transcript --format {fmt} (stdout)"] = shown.stdout + shown.stderr
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path.name != "book.md":
            written[str(path.relative_to(tmp_path))] = path.read_bytes()
    return written


def test_no_secret_is_written_anywhere(scanned: dict[str, bytes]) -> None:
    leaks = {where: _leaks(data) for where, data in scanned.items() if _leaks(data)}
    assert leaks == {}
    # the scan saw what it should: the transcript, a spilled side file, every report
    names = set(scanned)
    assert {"t.jsonl", "r.markdown", "r.html", "r.json", "r.notebook"} <= names
    assert any(name.startswith("t.") and name not in {"t.jsonl"} for name in names) or \
        any("spill" in name or name.endswith(".out") for name in names), names


def test_the_run_still_shows_masked_output(scanned: dict[str, bytes]) -> None:
    terminal = scanned["first run (terminal)"].decode()
    assert "now ****" in terminal  # an export, masked in the step that made it
    assert "leak **** and ****" in terminal  # $RUNBOOK_OUTPUT secrets, same step
    assert "leak ****" in terminal  # a step marked secret: its outputs are secrets
    assert "SERVICE_API_KEY=****" in terminal  # env, printenv, env.X
    resumed = scanned["resume (terminal)"].decode()
    assert "tok = ****" in resumed and "db_password = ****" in resumed


def test_values_given_again_on_resume_are_recorded_as_secrets(
        scanned: dict[str, bytes]) -> None:
    import json

    for line in scanned["t.jsonl"].decode().splitlines():
        event = json.loads(line)
        if event["event"] == "run_started" and event.get("resumed"):
            recorded = {v["name"]: v for v in event["variables"]}
            for name in ("tok", "db_password", "session_cookie", "plain"):
                assert recorded[name]["secret"] is True and recorded[name]["value"] == "****"
            return
    raise AssertionError("no resumed run_started event")
