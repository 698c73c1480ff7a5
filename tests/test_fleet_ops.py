"""A fleet as operators see it, against the real test sshd (its aliases as hosts, told apart by
$RUNBOOK_HOST): folded output, the host x step grid, retrying and resuming only where a step
failed, and --limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "160", "EDITOR": "",
       "TERM": "dumb"}
HOSTS = "---\nhosts:\n  web: [web1, web2, web3, web4]\n  canary: [web1]\n---\n"


def runbook(*args: str, cwd: Path, transcript: Path | None = None,
            verb: str = "run") -> subprocess.CompletedProcess[str]:
    more = ["--yes", "--transcript", str(transcript or cwd / "t.jsonl")] if verb == "run" else []
    return subprocess.run([sys.executable, "-m", "runbook_engine", verb, *args, *more],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def shared_dir() -> Path:
    """A folder the remote user (the test sshd's) writes in: each host logs its runs there."""
    path = Path(f"/tmp/runbook-fleetops-{uuid.uuid4().hex}")
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    return path


def fleet_run(tmp_path: Path, ssh_config: Path, step: str, *args: str) -> str:
    """Run a runbook of one step ``on=web`` (its attributes and code in ``step``) unattended:
    what it printed."""
    book = tmp_path / "fleet.md"
    book.write_text(HOSTS + f"# Fleet\n\n```bash {{#{step}\n```\n")
    result = runbook(str(book), "--ssh-config", str(ssh_config), *args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def report(transcript: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "transcript", str(transcript),
                           *args], capture_output=True, text=True, env=ENV, check=True).stdout


def runs_per_host(folder: Path) -> dict[str, int]:
    return {p.stem: len(p.read_text().splitlines()) for p in folder.glob("*.log")}


def test_identical_output_is_shown_once_under_the_folded_hosts(tmp_path: Path,
                                                               sshd_server) -> None:  # type: ignore[no-untyped-def]
    out = fleet_run(tmp_path, sshd_server.ssh_config, "same on=web}\necho all good\necho ready")
    assert "web[1-4] (4 hosts):\n  all good\n  ready\n" in out
    assert out.count("all good") == 1 and "web1 |" not in out and "differs" not in out


def test_one_odd_host_is_shown_as_a_diff_against_the_majority(tmp_path: Path,
                                                              sshd_server) -> None:  # type: ignore[no-untyped-def]
    out = fleet_run(tmp_path, sshd_server.ssh_config, "version on=web}\necho nginx\n"
                    "if [ \"$RUNBOOK_HOST\" = web3 ]; then echo 1.24.0; else echo 1.26.1; fi\n"
                    "echo done")
    assert "web[1-2,4] (3 hosts):\n  nginx\n  1.26.1\n  done\n" in out
    assert "web3 differs from web[1-2,4]:\n    nginx\n  - 1.26.1\n  + 1.24.0\n    done\n" in out
    markdown = report(tmp_path / "t.jsonl")
    assert "Output on web[1-2,4] (3 hosts)" in markdown
    assert "Output on web3, differs from web[1-2,4]" in markdown
    assert "- 1.26.1\n+ 1.24.0" in markdown
    html = report(tmp_path / "t.jsonl", "--format", "html")
    assert '<span class="diff-add">+ 1.24.0</span>' in html


def test_all_different_outputs_are_each_shown_in_full(tmp_path: Path,
                                                      sshd_server) -> None:  # type: ignore[no-untyped-def]
    out = fleet_run(tmp_path, sshd_server.ssh_config, "name on=web}\necho \"I am $RUNBOOK_HOST\"")
    for host in ("web1", "web2", "web3", "web4"):
        assert f"{host}:\n  I am {host}\n" in out
    assert "differs" not in out


def test_stream_shows_each_line_as_it_comes_prefixed_by_its_host(tmp_path: Path,
                                                                 sshd_server) -> None:  # type: ignore[no-untyped-def]
    out = fleet_run(tmp_path, sshd_server.ssh_config, "same on=web}\necho all good", "--output",
                    "stream")
    assert all(f"web{i} | all good" in out for i in range(1, 5)) and "(4 hosts)" not in out


FLAKY = ("```bash {{#deploy on=web}}\necho run >> {dir}/$RUNBOOK_HOST.log\n"
         "case $RUNBOOK_HOST in web2|web3) test -e {dir}/fixed ;; esac\n```\n")


def test_the_grid_ends_a_fleet_run_in_the_terminal_and_the_report(tmp_path: Path,
                                                                  sshd_server) -> None:  # type: ignore[no-untyped-def]
    folder = shared_dir()
    book = tmp_path / "grid.md"
    book.write_text(HOSTS + "# Grid\n\n```bash {#check on=web}\ntrue\n```\n\n"
                    + FLAKY.format(dir=folder) + "\n```bash {#local}\necho here\n```\n")
    result = runbook(str(book), "--ssh-config", str(sshd_server.ssh_config),
                     "--continue-on-error", cwd=tmp_path)
    assert result.returncode == 1
    grid = result.stdout[result.stdout.index("Hosts × steps"):]
    assert "Hosts × steps (✓ ok  ✗ failed):" in grid
    assert "check  deploy" in grid
    assert "web[1,4]  ✓      ✓" in grid and "web[2-3]  ✓      ✗" in grid
    assert grid.index("Hosts × steps") < grid.index("Run failed")
    markdown = report(tmp_path / "t.jsonl")
    assert "| Hosts | `check` | `deploy` |" in markdown
    assert "| `web[2-3]` | ✅ ok | ❌ failed |" in markdown


def test_resume_reruns_a_fanned_out_step_only_where_it_failed(tmp_path: Path,
                                                              sshd_server) -> None:  # type: ignore[no-untyped-def]
    folder = shared_dir()
    book = tmp_path / "resume.md"
    flaky = FLAKY.format(dir=folder).replace("{#deploy on=web}", "{#deploy on=web capture=v}")
    book.write_text(HOSTS + "# Resume\n\n" + flaky.replace("```\n", "echo v-$RUNBOOK_HOST\n```\n")
                    + "\n```bash {#after}\necho '{{ v | tojson }}'\n```\n")
    transcript = tmp_path / "t.jsonl"
    first = runbook(str(book), "--ssh-config", str(sshd_server.ssh_config), cwd=tmp_path)
    assert first.returncode == 1 and "--resume" in first.stderr
    assert runs_per_host(folder) == {"web1": 1, "web2": 1, "web3": 1, "web4": 1}
    (folder / "fixed").touch()
    second = runbook(str(book), "--ssh-config", str(sshd_server.ssh_config), "--resume",
                     str(transcript), cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert runs_per_host(folder) == {"web1": 1, "web2": 2, "web3": 2, "web4": 1}
    assert "on web[2-3] (2 of 4 hosts)" in second.stdout
    recorded = events(transcript)
    started = [e for e in recorded if e["event"] == "step_started" and e["step"] == "deploy"]
    assert started[-1]["hosts"] == ["web2", "web3"]
    finished = [e for e in recorded if e["event"] == "step_finished" and e["step"] == "deploy"]
    assert finished[-1]["status"] == "ok"
    assert {h: r["status"] for h, r in finished[-1]["hosts"].items()} == dict.fromkeys(
        ["web1", "web2", "web3", "web4"], "ok")
    assert "web[1-4]  ✓" in second.stdout  # the grid: every host done, both sessions
    # the capture maps every host, those kept from the first session too (read from its output)
    assert '{"web1": "v-web1", "web2": "v-web2", "web3": "v-web3", "web4": "v-web4"}' \
        in second.stdout


def failing(book: Path, tmp_path: Path, ssh_config: Path) -> pexpect.spawn:
    """``runbook run`` in a real pty, the step answered ``y``: it goes on to fail."""
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book),
                                           "--transcript", str(tmp_path / "t.jsonl"),
                                           "--ssh-config", str(ssh_config)],
                          cwd=str(tmp_path), env=ENV, encoding="utf-8", timeout=30,
                          dimensions=(40, 160))
    child.expect(r"\[y/n/e/a/q/\?\]")
    child.sendline("y")
    return child


@pytest.mark.parametrize(("key", "runs", "hosts"), [
    ("r", {"web1": 1, "web2": 2, "web3": 2, "web4": 1}, ["web2", "web3"]),  # the failed only
    ("a", {"web1": 2, "web2": 2, "web3": 2, "web4": 2}, []),  # everywhere again
])
def test_the_failure_menu_retries_the_failed_hosts_or_all(
        tmp_path: Path, sshd_server, key: str, runs: dict[str, int],  # type: ignore[no-untyped-def]
        hosts: list[str]) -> None:
    folder = shared_dir()
    book = tmp_path / "retry.md"
    book.write_text(HOSTS + "# Retry\n\n" + FLAKY.format(dir=folder))
    child = failing(book, tmp_path, sshd_server.ssh_config)
    try:
        child.expect(r"Step failed on web\[2-3\] \(2 of 4 hosts\); r retries there only\.\s+"
                     r"\[r/a/e/s/q/\?\]")
        assert runs_per_host(folder) == {"web1": 1, "web2": 1, "web3": 1, "web4": 1}
        (folder / "fixed").touch()
        child.sendline(key)
        child.expect("deploy ok")
        assert runs_per_host(folder) == runs
        child.expect("Run ok")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    retry = [e for e in events(tmp_path / "t.jsonl") if e["event"] == "step_started"][-1]
    assert retry["attempt"] == 2 and retry["hosts"] == hosts


def test_limit_restricts_the_run_to_the_hosts_it_names(tmp_path: Path,
                                                       sshd_server) -> None:  # type: ignore[no-untyped-def]
    folder = shared_dir()
    book = tmp_path / "limit.md"
    book.write_text(HOSTS + "# Limit\n\n```bash {#touch on=web}\n"
                    f"echo run >> {folder}/$RUNBOOK_HOST.log\n```\n\n"
                    "```bash {#canary on=canary}\necho canary\n```\n\n"
                    "```bash {#here}\necho local step\n```\n")
    config = ("--ssh-config", str(sshd_server.ssh_config))
    result = runbook(str(book), *config, "--limit", "web:!web2:!canary", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs_per_host(folder) == {"web3": 1, "web4": 1}
    assert "local step" in result.stdout and "canary" not in result.stdout.replace(
        "web:!web2:!canary", "")
    started = next(e for e in events(tmp_path / "t.jsonl") if e["event"] == "run_started")
    assert started["selection"]["limit"] == "web:!web2:!canary"
    retry_file = tmp_path / "hosts.retry"
    retry_file.write_text("web2\n")
    second = runbook(str(book), *config, "--limit", f"@{retry_file}",
                     transcript=tmp_path / "t2.jsonl", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert runs_per_host(folder) == {"web2": 1, "web3": 1, "web4": 1}
    nothing = runbook(str(book), *config, "--limit", "db*", transcript=tmp_path / "t3.jsonl",
                      cwd=tmp_path)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr
    assert nothing.stderr.strip().splitlines() == [
        "--limit db*: no host of this runbook matches (its hosts: web1, web2, web3, web4)"]
    assert not (tmp_path / "t3.jsonl").exists()


def test_limit_on_plan_and_test(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "plan.md"
    book.write_text(HOSTS + "# Plan\n\n```bash {#all on=web}\ntrue\n```\n\n"
                    "```bash {#canary on=canary}\ntrue\n```\n")
    plan = runbook(str(book), "--limit", "web*:!web1", "--format", "json", verb="plan",
                   cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    steps = json.loads(plan.stdout)["steps"]
    assert [(s["id"], s["targets"]) for s in steps] == [("all", ["web2", "web3", "web4"])]
    tested = subprocess.run([sys.executable, "-m", "runbook_engine", "test", str(book),
                             "--ssh-config", str(sshd_server.ssh_config), "--limit", "canary",
                             "--transcript-dir", str(tmp_path / "tr")],
                            capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=120)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    (transcript,) = (tmp_path / "tr").glob("*.jsonl")
    ran = {e["step"]: e.get("hosts") for e in events(transcript) if e["event"] == "step_finished"}
    assert ran == {"all": {}, "canary": {}}  # each on web1 only: one host, no fan-out
    started = [e for e in events(transcript) if e["event"] == "step_started"]
    assert [e["targets"] for e in started] == [["web1"], ["web1"]]


def test_limit_reads_the_inventory_groups(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[webservers]\nweb[1:4]\n\n[canaries]\nweb2\nweb4\n\n"
                         "[db]\ndb1 ansible_host=127.0.0.1\n")
    book = tmp_path / "inv.md"
    book.write_text("# Inventory\n\n```bash {#web on=webservers}\ntrue\n```\n\n"
                    "```bash {#db on=db}\ntrue\n```\n")
    plan = runbook(str(book), "--inventory", str(inventory), "--limit", "webservers:&canaries",
                   "--format", "json", verb="plan", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert [(s["id"], s["targets"]) for s in json.loads(plan.stdout)["steps"]] == [
        ("web", ["web2", "web4"])]
    both = runbook(str(book), "--inventory", str(inventory), "--limit", "db,web1",
                   "--format", "json", verb="plan", cwd=tmp_path)
    assert [(s["id"], s["targets"]) for s in json.loads(both.stdout)["steps"]] == [
        ("web", ["web1"]), ("db", ["db1"])]


def test_the_page_retries_the_failed_hosts_and_folds_output_as_the_terminal(tmp_path: Path,
                                                            sshd_server) -> None:  # type: ignore[no-untyped-def]
    from test_web_run import answer, wait_event
    from webserve import Served
    folder = shared_dir()
    book = tmp_path / "retry.md"
    book.write_text(HOSTS + "# Retry\n\n" + FLAKY.format(dir=folder)
                    + "\n```bash {#version on=web}\n"
                    'echo nginx\ntest "$RUNBOOK_HOST" = web3 && echo 1.25.0 || echo 1.26.1\n```\n')
    served = Served(book, tmp_path, "--ssh-config", str(sshd_server.ssh_config))
    try:
        assert answer(served, "y")["step"] == "deploy"
        failure = served.prompt()
        assert failure["kind"] == "failure" and failure["failed_hosts"] == "web[2-3]"
        assert "r retries there only" in failure["prompt"]
        (folder / "fixed").touch()
        answer(served, "r")
        assert wait_event(served, "step_finished", "deploy")["status"] == "ok"
        assert runs_per_host(folder) == {"web1": 1, "web2": 2, "web3": 2, "web4": 1}
        # the page folds a fan-out's output as the terminal does: the odd host as a diff
        answer(served, "y")
        wait_event(served, "step_finished", "version")
        state = served.request(f"/{served.operator_token}/api/state").json()
        assert state["steps"]["version"]["folded"] == [
            {"hosts": "web[1-2,4]", "count": 3, "odd": False, "lines": ["nginx", "1.26.1"],
             "diff": []},
            {"hosts": "web3", "count": 1, "odd": True, "lines": [],
             "diff": ["  nginx", "- 1.26.1", "+ 1.25.0"]}]
    finally:
        served.stop()
