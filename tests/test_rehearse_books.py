"""`runbook test` on what the project ships and on a seed runbook, as CI would rehearse them."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seeds" / "000_354c440e5cc73968.txt"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}


def rb_test(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "test", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env or ENV, timeout=300)


def test_the_bundled_books_pass_their_rehearsal(tmp_path: Path) -> None:
    # the api book reads its logs from the checkout it is pointed at: a fixture checkout here
    done = rb_test("books/", "--var", "app_dir=tests/fixtures/api-checkout",
                   "--transcript-dir", str(tmp_path), "--junit", str(tmp_path / "books.xml"))
    assert done.returncode == 0, done.stdout + done.stderr
    suites = ET.parse(tmp_path / "books.xml").getroot().findall("testsuite")
    assert {s.get("name") for s in suites} >= {"Host health check", "API not starting"}
    assert all(s.get("failures") == "0" and s.get("errors") == "0" for s in suites)
    host = next(s for s in suites if s.get("name") == "Host health check")
    assert int(host.get("tests") or 0) - int(host.get("skipped") or 0) >= 5  # really verified


def _fake_curl(tmp_path: Path, status: str) -> dict[str, str]:
    """A `curl` first on PATH answering the health endpoint as a live API would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text("#!/bin/sh\nprintf '%s\\n' '{\"status\": \"" + status + "\", \"timestamp\": "
                    "\"2026-12-02T21:45:10Z\", \"uptime\": 81234, \"database\": \"connected\", "
                    "\"redis\": \"connected\", \"version\": \"0.3.2\"}'\n")
    curl.chmod(0o755)
    return {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV['PATH']}"}


@pytest.mark.skipif(not SEED.exists() and os.environ.get("CI") != "true",
                    reason="no ../shared/seeds here")
def test_a_seed_health_check_is_compared_with_its_expected_json(tmp_path: Path) -> None:
    args = (str(SEED), "--section", "Health Checks", "--transcript-dir", str(tmp_path))
    healthy = rb_test(*args, env=_fake_curl(tmp_path, "healthy"))
    # the expected JSON after the curl is not a command: one step, and it matches although the
    # timestamp, the uptime and the version differ
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "1 passed, 0 failed, 0 not verified" in healthy.stdout
    (tmp_path / "bin" / "curl").unlink()
    (tmp_path / "bin").rmdir()
    degraded = rb_test(*args, env=_fake_curl(tmp_path, "degraded"))
    assert degraded.returncode == 1
    assert '$.status: expected "healthy", got "degraded"' in degraded.stdout
