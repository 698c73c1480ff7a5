"""`runbook test`: runbooks rehearsed unattended, each step a test case, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runbook_engine.load import load
from runbook_engine.state import RunState
from runbook_engine.testing.rehearse import unverifiable

HEALTH = """# Orders API health

Ask the API how it is:

```bash
cat health.json
```

Expected response:

```json
{
  "status": "healthy",
  "checked_at": "2024-11-06T12:00:00Z",
  "uptime": 3600,
  "database": "connected"
}
```
"""

TRANSCRIPT = """# Release check

```console
$ cat release.txt
release 2.4.1 built 2026-01-05T10:00:00Z
channel: stable
```
"""

ELLIPSIS = """# Backup

```bash
cat backup.log
# Expected output
Starting backup of orders
...
Backup finished: ... rows
```
"""

MIXED = """# Mixed bag

```bash {#fine}
echo fine
```

```bash {#broken}
echo "about to fail" && exit 3
```

```bash {#after}
echo still running after the failure
```

```bash {#wipe}
rm -rf ./scratch-area
```

- [ ] Tell the team

```bash {#needs-value}
echo "deploying {{ release }}"
```

```bash {#tolerated continue_on_error}
grep -q nothing-here /dev/null
```

```bash {#typo continue_on_error}
tool=definitely-not-a-program-xyz
"$tool" --version
```

```bash {#missing}
definitely-not-a-program-xyz --version
```
"""


def runbook(tmp_path: Path, text: str, name: str = "book.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rb_test(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "test", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=180,
                          env={**os.environ, **(env or {})})


def junit(path: Path) -> dict[str, ET.Element]:
    """The test cases of a JUnit file by step id."""
    root = ET.parse(path).getroot()
    return {case.get("name", "").split(":")[0]: case for case in root.iter("testcase")}


def health(tmp_path: Path, status: str) -> None:
    (tmp_path / "health.json").write_text(json.dumps(
        {"status": status, "checked_at": "2026-12-02T09:41:07.125Z", "uptime": 17,
         "database": "connected"}))


def test_json_matches_despite_another_timestamp_and_uptime(tmp_path: Path) -> None:
    runbook(tmp_path, HEALTH)
    health(tmp_path, "healthy")
    done = rb_test(tmp_path, "book.md", "--junit", "report.xml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  ✓ ask-the-api-how-it-is" in done.stdout
    assert "book.md: 1 passed, 0 failed, 0 not verified" in done.stdout
    (case,) = junit(tmp_path / "report.xml").values()
    assert case.find("failure") is None and case.find("skipped") is None


def test_a_literal_that_differs_fails_with_the_diff_in_the_junit_file(tmp_path: Path) -> None:
    runbook(tmp_path, HEALTH)
    health(tmp_path, "degraded")
    done = rb_test(tmp_path, "book.md", "--junit", "out/report.xml")
    assert done.returncode == 1
    assert "✗ ask-the-api-how-it-is: output differs from the output block after the command" \
        in done.stdout
    assert '      $.status: expected "healthy", got "degraded"' in done.stdout
    (case,) = junit(tmp_path / "out" / "report.xml").values()
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "drift"
    assert failure.get("message") == ("output differs from the output block after the command "
                                      "(json)")
    assert '$.status: expected "healthy", got "degraded"' in (failure.text or "")
    assert '"status": "degraded"' in (case.findtext("system-out") or "")


def test_transcript_output_lines_are_checked(tmp_path: Path) -> None:
    runbook(tmp_path, TRANSCRIPT)
    (tmp_path / "release.txt").write_text("release 2.5.0 built 2026-03-01T08:00:00Z\n"
                                          "channel: stable\n")
    assert rb_test(tmp_path, "book.md").returncode == 0  # versions and times are volatile
    (tmp_path / "release.txt").write_text("release 2.5.0 built 2026-03-01T08:00:00Z\n"
                                          "channel: canary\n")
    done = rb_test(tmp_path, "book.md")
    assert done.returncode == 1
    assert "      - channel: stable\n      + channel: canary" in done.stdout


def test_ellipsis_elides_lines_and_text(tmp_path: Path) -> None:
    runbook(tmp_path, ELLIPSIS)
    log = "Starting backup of orders\ncopying orders_2025\ncopying orders_2026\n" \
          "Backup finished: 48213 rows\n"
    (tmp_path / "backup.log").write_text(log)
    assert rb_test(tmp_path, "book.md").returncode == 0
    (tmp_path / "backup.log").write_text(log.replace("Backup finished: 48213 rows",
                                                     "Backup aborted: disk full"))
    done = rb_test(tmp_path, "book.md")
    assert done.returncode == 1
    assert "      - Backup finished: ... rows" in done.stdout
    assert "      + Backup aborted: disk full" in done.stdout


def test_against_an_earlier_run_reports_the_line_that_changed(tmp_path: Path) -> None:
    runbook(tmp_path, "# Fleet\n\n```bash\ncat fleet.txt\n```\n")
    (tmp_path / "fleet.txt").write_text("web-1 ready 2026-01-01T10:00:00Z\n"
                                        "web-2 ready 2026-01-01T10:00:00Z\n")
    good = subprocess.run([sys.executable, "-m", "runbook_engine", "run", "book.md", "--yes",
                           "--transcript", "good.jsonl"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert good.returncode == 0, good.stderr
    (tmp_path / "fleet.txt").write_text("web-1 ready 2026-02-11T07:00:00Z\n"
                                        "web-2 ready 2026-02-11T07:00:00Z\n")
    assert rb_test(tmp_path, "book.md", "--against", "good.jsonl").returncode == 0
    (tmp_path / "fleet.txt").write_text("web-1 ready 2026-02-11T07:00:00Z\n"
                                        "web-2 draining 2026-02-11T07:00:00Z\n")
    done = rb_test(tmp_path, "book.md", "--against", "good.jsonl", "--junit", "r.xml")
    assert done.returncode == 1
    assert "output differs from the earlier run (good.jsonl) (text)" in done.stdout
    assert "      - web-2 ready 2026-01-01T10:00:00Z" in done.stdout
    assert "      + web-2 draining 2026-02-11T07:00:00Z" in done.stdout
    (case,) = junit(tmp_path / "r.xml").values()
    assert "+ web-2 draining" in (case.find("failure").text or "")  # type: ignore[union-attr]


def test_against_refuses_what_is_not_a_run_of_the_runbook(tmp_path: Path) -> None:
    runbook(tmp_path, "# Other\n\n```bash\necho other\n```\n", "other.md")
    subprocess.run([sys.executable, "-m", "runbook_engine", "run", "other.md", "--yes",
                    "--transcript", "other.jsonl"], capture_output=True, cwd=tmp_path,
                   timeout=60, check=True)
    runbook(tmp_path, HEALTH)
    done = rb_test(tmp_path, "book.md", "--against", "other.jsonl")
    assert done.returncode == 2
    assert done.stderr.strip().endswith('not book.md ("Orders API health")')
    assert not (tmp_path / "transcripts").exists()  # refused before anything ran
    done = rb_test(tmp_path, "book.md", "--against", "book.md")
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)


def test_each_step_is_a_case_and_the_run_keeps_going(tmp_path: Path) -> None:
    runbook(tmp_path, MIXED)
    done = rb_test(tmp_path, "book.md", "--junit", "r.xml")
    assert done.returncode == 1
    cases = junit(tmp_path / "r.xml")
    outcomes = {name: ("failed" if case.find("failure") is not None else
                       "skipped" if case.find("skipped") is not None else "passed")
                for name, case in cases.items()}
    assert outcomes == {"fine": "passed", "broken": "failed", "after": "passed",
                        "wipe": "skipped", "tell-the-team": "skipped",
                        "needs-value": "skipped", "tolerated": "passed", "typo": "failed",
                        "missing": "skipped"}
    skipped = {name: case.find("skipped").get("message")  # type: ignore[union-attr]
               for name, case in cases.items() if outcomes[name] == "skipped"}
    assert skipped["wipe"].startswith("dangerous: ")
    assert skipped["wipe"].endswith("(pass --allow-danger to rehearse it)")
    assert skipped["tell-the-team"] == "manual step: left to the operator"
    assert skipped["needs-value"] == "needs release: pass --var release=VALUE"
    assert skipped["missing"] == ("needs definitely-not-a-program-xyz, which this machine does "
                                  "not have (command -v definitely-not-a-program-xyz)")
    typo = cases["typo"].find("failure")
    assert typo is not None and typo.get("message") == \
        "exit code 127: command not found (exit 127)"
    assert "book.md: 3 passed, 2 failed, 4 not verified" in done.stdout
    assert (tmp_path / "transcripts").is_dir()  # a transcript like every run
    (transcript,) = (tmp_path / "transcripts").iterdir()
    assert transcript.name.endswith("-book.jsonl")
    assert f"transcript transcripts/{transcript.name}" in done.stdout
    # --var fills the value in, --allow-danger runs the dangerous step, --only selects
    done = rb_test(tmp_path, "book.md", "--var", "release=7.1", "--allow-danger",
                   "--only", "needs-value", "--only", "wipe", "--junit", "r.xml")
    assert done.returncode == 0, done.stdout
    assert set(junit(tmp_path / "r.xml")) == {"needs-value", "wipe"}
    # stop at the first failure when asked: what follows is not reached
    done = rb_test(tmp_path, "book.md", "--stop-at-failure", "--junit", "r.xml")
    after = junit(tmp_path / "r.xml")["after"].find("skipped")
    assert after is not None and after.get("message") == "not reached (the run ended before it)"


def test_a_program_this_machine_lacks_leaves_the_step_unverified(tmp_path: Path) -> None:
    runbook(tmp_path, "# Cluster\n\n```bash {#pods}\nkubectl-imaginary get pods\n```\n\n"
                      "```bash {#date}\ndate -u +%Y\n```\n")
    loaded = load(str(tmp_path / "book.md"))
    skip_if = unverifiable(loaded, {}, RunState(), lookup=lambda name: None
                           if name == "kubectl-imaginary" else f"/usr/bin/{name}")
    pods, date = loaded.steps
    assert skip_if(pods) == ("needs kubectl-imaginary, which this machine does not have "
                             "(command -v kubectl-imaginary)")
    assert skip_if(date) is None


def test_a_declared_environment_input_that_is_not_set_is_said(tmp_path: Path) -> None:
    text = ("---\ntitle: Db\nvars:\n  DATABASE_URL:\n    env: DATABASE_URL\n    secret: true\n"
            "---\n\n# Db\n\n```bash {#ping}\necho \"$DATABASE_URL\" | wc -c\n```\n")
    runbook(tmp_path, text)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "test", "book.md"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60, env=env)
    assert done.returncode == 0
    assert "○ ping: not verified: needs $DATABASE_URL: set it in the environment" in done.stdout
    done = rb_test(tmp_path, "book.md", env={"DATABASE_URL": "postgres://db/app"})
    assert "✓ ping" in done.stdout


def test_a_folder_of_runbooks_and_the_exit_codes(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    runbook(books, "# One\n\n```bash\necho one\n```\n", "one.md")
    runbook(books, "# Two\n\n```console\n$ echo two\ntwo\n```\n", "two.md")
    runbook(books, "# Readme\n\n```bash\nexit 9\n```\n", "README.md")
    done = rb_test(tmp_path, "books", "--junit", "r.xml")
    assert done.returncode == 0, done.stdout
    assert "2 runbooks: 2 passed, 0 failed, 0 not verified" in done.stdout
    suites = ET.parse(tmp_path / "r.xml").getroot().findall("testsuite")
    assert [s.get("file") for s in suites] == ["books/one.md", "books/two.md"]
    # a runbook that does not load: the others still run, exit 2
    runbook(books, "---\nvars: [unclosed\n---\n# Broken\n", "zz-broken.md")
    done = rb_test(tmp_path, "books", "--junit", "r.xml")
    assert done.returncode == 2
    assert "2 runbooks" not in done.stdout and "3 runbooks: 2 passed" in done.stdout
    errors = [s for s in ET.parse(tmp_path / "r.xml").getroot() if s.get("errors") == "1"]
    assert [s.get("file") for s in errors] == ["books/zz-broken.md"]
    # usage errors: exit 2, one line
    assert rb_test(tmp_path, "books", "--only", "no-such-step").returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    done = rb_test(tmp_path, "empty")
    assert (done.returncode, done.stderr) == (2, "empty: no runbooks (*.md) in this folder\n")


@pytest.mark.parametrize("selection", [["--tag", "smoke"], ["--section", "Checks"]])
def test_tag_and_section_select_steps(tmp_path: Path, selection: list[str]) -> None:
    runbook(tmp_path, "# Sel\n\n## Checks\n\n```bash {#a .smoke}\necho a\n```\n\n"
                      "## Other\n\n```bash {#b}\necho b\n```\n")
    done = rb_test(tmp_path, "book.md", *selection, "--junit", "r.xml")
    assert done.returncode == 0
    assert list(junit(tmp_path / "r.xml")) == ["a"]
