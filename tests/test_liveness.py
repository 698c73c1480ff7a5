"""Commands that need a terminal or never end: detected, handed over, skipped with --yes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from runbook_engine.liveness import needs_terminal, runs_until_stopped

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb"}


@pytest.mark.parametrize("code", ["top", "htop", 'psql "$DATABASE_URL"', "psql -U app appdb",
                                  "ssh deploy@host", "docker exec -it web sh", "sqlite3 x.db",
                                  "redis-cli", "sudo vim /etc/hosts", "psql -h db -U app -d mydb",
                                  "mysql -h db -u app shop"])
def test_needs_terminal(code: str) -> None:
    assert needs_terminal(code)


@pytest.mark.parametrize("code", ['psql "$DATABASE_URL" -c "SELECT 1"', 'psql "$U" -Atc "SELECT 1"',
                                  "psql -l | grep db",
                                  "ssh host uptime", "redis-cli -a secret ping", "ls -la",
                                  "sqlite3 x.db 'select 1'", "ssh -N -L 5432:db:5432 bastion",
                                  "echo top", "# top", 'gunzip < b.sql.gz | psql "$DATABASE_URL"',
                                  'psql "$DATABASE_URL" < dump.sql', "top -bn1 | head"])
def test_does_not_need_terminal(code: str) -> None:
    assert needs_terminal(code) is None


@pytest.mark.parametrize("code", ["tail -f logs/app.log", "journalctl -u nginx -f",
                                  "kubectl logs -f pod", "docker logs --follow web",
                                  "pm2 logs app", "watch df -h", "ping 8.8.8.8", "npm run dev",
                                  "tail -fn 100 x.log", "journalctl -fu nginx",
                                  "kubectl get pods -w", "docker compose logs -f web",
                                  "docker stats"])
def test_runs_until_stopped(code: str) -> None:
    assert runs_until_stopped(code)


@pytest.mark.parametrize("code", ["tail -n 50 logs/app.log", "pm2 logs app --nostream",
                                  "ping -c 3 host", "npm run build", "journalctl -n 20",
                                  "kubectl apply -f deploy.yaml", "docker rm -f api",
                                  "docker compose -f prod.yml up -d", "docker stats --no-stream",
                                  "kubectl rollout status deploy/api"])
def test_ends_by_itself(code: str) -> None:
    assert runs_until_stopped(code) is None


def book(tmp_path: Path) -> Path:
    path = tmp_path / "b.md"
    path.write_text("# B\n\n```bash {#logs}\necho START; tail -f /dev/null\n```\n\n"
                    "```bash {#after}\necho AFTER\n```\n")
    return path


def test_yes_skips_a_follow_step_and_lists_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book(tmp_path)),
                             "--yes", "--transcript", str(tmp_path / "t.jsonl")],
                            capture_output=True, text=True, env=ENV, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "START" not in result.stdout and "AFTER" in result.stdout
    last = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[-1])
    assert any(item.startswith("logs") for item in last["open_items"])


def test_ctrl_c_ends_a_follow_step_as_ok(tmp_path: Path) -> None:
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book(tmp_path)),
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          env=ENV, encoding="utf-8", timeout=20)
    child.expect("Ctrl-C ends it")
    child.expect(r"\[y/n/e/a/q/\?\]")
    child.sendline("y")
    child.expect("START")
    child.sendintr()
    child.expect(r"\[y/n/e/a/q/\?\]")  # straight to the next step, no failure menu
    child.sendline("y")
    child.expect("AFTER")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    logs = next(e for e in events if e["event"] == "step_finished" and e["step"] == "logs")
    assert logs["status"] == "ok" and "stopped by the operator" in logs["reason"]


class _Everything(frozenset):  # type: ignore[type-arg]
    """A trigger set that meets every code: the prefilter lets all through."""

    def isdisjoint(self, other: object) -> bool:
        return False


def test_the_prefilter_never_changes_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # every step of the corpus runbooks (and the cases above) answers the same with the name
    # prefilter as when every code is read as shell
    from runbook_engine import liveness
    from runbook_engine.parse import load_runbook

    codes = [(s.code, s.lang or "bash") for book in sorted((ROOT / "tests" / "corpus").glob("*.md"))
             for s in load_runbook(str(book)).steps if s.code.strip()]
    codes += [(c, "bash") for c in ("top", "watch df", "docker-compose exec -it db sh",
                                    "kubectl get pods -w", "echo stop", "tail -f x.log")]
    assert len(codes) > 500

    def answers() -> list[tuple[str | None, str | None]]:
        liveness._cached_commands.cache_clear()
        return [(needs_terminal(c, lang), runs_until_stopped(c, lang)) for c, lang in codes]

    filtered = answers()
    monkeypatch.setattr(liveness, "_TRIGGERS", _Everything())
    assert answers() == filtered
    assert sum(1 for t, f in filtered if t or f) > 20  # the corpus has both kinds
