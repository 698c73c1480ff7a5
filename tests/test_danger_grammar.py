"""Danger analysis through every wrapper and prefix, on the seeds, in the docs, and on odd input.

A destructive command stays destructive however it is launched (``sudo``, ``ssh host '...'``,
``kubectl exec -- ...``, a heredoc fed to a shell), and an everyday command stays quiet through the
same wrappers. The analysis never raises and stays linear on long or malformed text.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine import danger_doc
from runbook_engine.danger import danger_reasons, fed_language
from runbook_engine.model import Step
from runbook_engine.safety import step_danger

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(os.environ.get("RUNBOOK_SEEDS", ROOT.parent / "shared" / "seeds"))

# how runbooks launch a command: {} is the command (written without quotes of its own)
SHELL_WRAPPERS = [
    "{}", "sudo {}", "sudo -u postgres {}", "sudo -E -H {}", "doas {}", "doas -u root {}",
    "time {}", "env FOO=1 BAR=baz {}", "env -i PATH=/usr/bin {}", "nohup {} &",
    "nice -n 10 {}", "ionice -c3 {}", "timeout 30 {}", "timeout -s KILL 5m {}", "\\{}",
    "command {}", "exec {}", "stdbuf -oL {}", "xargs -r {}", "watch -n 5 '{}'",
    "ssh web1 '{}'", 'ssh -p 2222 -i key.pem deploy@web1 "{}"', "ssh -t web1 {}",
    "pssh -h hosts.txt -i '{}'", "parallel-ssh -H a -H b '{}'", "pdsh -w web[1-3] '{}'",
    "sh -c '{}'", 'bash -lc "{}"', "su - app -c '{}'", "sudo sh -c '{}'",
    "runuser -u app -- {}", "chroot /mnt {}", "nsenter -t 1 -m -u -n -- {}",
    "flock /tmp/deploy.lock {}", "cd /srv && {}", "true || {}", "echo start; {}",
    "{} && echo done", "if true; then {}; fi", "for i in 1 2; do {}; done", "( {} )",
    "{{ {}; }}", "x=$({})", "echo $({})", 'echo "$({})"', "echo `{}`",
    "docker exec -it db {}", "docker exec web {}", "docker compose exec -T api {}",
    "docker-compose exec worker {}", "kubectl exec -it api-0 -- {}",
    "kubectl -n prod exec api-0 -c app -- {}", "oc exec api-0 -- {}",
    "kubectl exec api-0 -- sh -c '{}'", "docker exec web bash -c '{}'",
    "bash <<'EOF'\n{}\nEOF", "ssh web1 <<'EOF'\n{}\nEOF", "sudo bash -s <<EOF\n{}\nEOF",
    "gcloud compute ssh vm-1 --zone z --command '{}'", "ansible all -b -m shell -a '{}'",
    "tmux send-keys -t ops '{}' Enter",
]
DANGEROUS = [
    ("rm -rf /srv/app/cache", "rm -rf deletes files recursively"),
    ("kubectl -n prod delete pod api-0", "kubectl delete removes cluster resources"),
    ("systemctl stop nginx", "systemctl stop stops a service"),
    ("docker volume rm pgdata", "docker volume rm deletes volume data"),
    ("kill -9 4711", "kill -9 stops processes"),
    ("dropdb shop", "dropdb deletes a database"),
    ("git -C /srv/app reset --hard origin/main", "git reset --hard discards"),
    ("redis-cli -n 0 FLUSHALL", "FLUSHALL deletes every key"),
    ("terraform destroy -auto-approve", "terraform destroy deletes the resources"),
    ("aws s3 rm s3://bucket/tmp --recursive", "aws s3 rm --recursive deletes every object"),
    ("helm -n mon uninstall prom", "helm uninstall removes a release"),
    ("rsync -a --delete src/ web2:/srv/", "rsync --delete deletes files"),
    ("apt-get -y purge nginx", "apt-get purge uninstalls packages"),
    ("curl -X DELETE http://es:9200/old-logs", "curl -X DELETE changes state"),
    ("find /var/tmp -name x -delete", "find -delete deletes every file"),
]
SAFE = [
    "ls -la /srv", "kubectl get pods -n prod", "systemctl status nginx", "docker ps",
    "git status", "redis-cli INFO", "terraform plan", "aws s3 ls", "helm list -A", "df -h",
    "grep DROP schema.sql", "tail -n 50 /var/log/syslog", "curl -s http://localhost/health",
    "journalctl -u app -n 20", "echo rm -rf everything",
]


@pytest.mark.parametrize("wrapper", SHELL_WRAPPERS)
@pytest.mark.parametrize(("command", "phrase"), DANGEROUS)
def test_wrapped_destructive_command_is_flagged(wrapper: str, command: str, phrase: str) -> None:
    reasons = danger_reasons(wrapper.format(command))
    assert any(phrase in reason for reason in reasons), reasons


@pytest.mark.parametrize("wrapper", SHELL_WRAPPERS)
@pytest.mark.parametrize("command", SAFE)
def test_wrapped_everyday_command_stays_quiet(wrapper: str, command: str) -> None:
    assert danger_reasons(wrapper.format(command)) == []


POWERSHELL_WRAPPERS = [
    "{}", "Invoke-Command -ComputerName web01 -ScriptBlock {{ {} }}", "$result = {}",
    "if ($force) {{ {} }}", "Get-ChildItem C:\\x | ForEach-Object {{ {} }}",
    "{} -Confirm:$false", "Start-Job -ScriptBlock {{ {} }}", "try {{ {} }} catch {{ throw }}",
    "pwsh -Command \"{}\"",
]


@pytest.mark.parametrize("wrapper", POWERSHELL_WRAPPERS)
@pytest.mark.parametrize(("command", "phrase"), [
    ("Remove-Item C:\\inetpub\\old -Recurse -Force", "Remove-Item -Recurse -Force deletes"),
    ("Stop-Service W3SVC", "Stop-Service stops what it names"),
    ("Restart-Computer -Force", "Restart-Computer takes the machine down"),
])
def test_powershell_wrappers(wrapper: str, command: str, phrase: str) -> None:
    lang = "bash" if wrapper.startswith("pwsh ") else "powershell"
    reasons = danger_reasons(wrapper.format(command), lang)
    assert any(phrase in reason for reason in reasons), reasons
    assert danger_reasons(wrapper.format("Get-Service W3SVC"), lang) == []


@pytest.mark.parametrize(("interpreter", "language"), [
    ("psql $DATABASE_URL", "sql"), ("sudo -u postgres psql -d shop", "sql"),
    ("docker compose exec -T db mysql -uroot shop", "sql"),
    ("kubectl exec -i redis-0 -- redis-cli", "redis"), ("mongosh mongodb://db/shop", "mongo"),
    ("ssh web1", "shell"), ("bash", "shell"), ("cat", None),
])
def test_fed_language_sees_through_wrappers(interpreter: str, language: str | None) -> None:
    assert fed_language(interpreter) == language


def test_step_danger_reads_code_in_the_language_it_is_fed_to() -> None:
    fed = Step("s", "S", "rb.md", 3, "engine", "bash", "DEL cart:1\nGET cart:2",
               interpreter="kubectl exec -i redis-0 -- redis-cli")
    assert step_danger(fed) == ["redis-cli DEL deletes keys"]
    manual_sql = Step("m", "M", "rb.md", 9, "manual", "sql", "TRUNCATE sessions;")
    assert step_danger(manual_sql) == ["TRUNCATE deletes every row of a table"]
    tagged_text = Step("t", "T", "rb.md", 12, "shell", "text", "systemctl stop app")
    assert step_danger(tagged_text) == ["systemctl stop stops a service"]


# ---------------------------------------------------------------- the seeds

# every command the seeds flagged before the grammar rewrite (command granularity)
SEED_DANGER = [
    ("000", "pg_restore -d $DATABASE_URL backup_file.dump"), ("000", "kill -9 <PID>"),
    ("000", 'psql $DATABASE_URL -c "VACUUM FULL ANALYZE;"'),
    ("000", "pg_restore -d bobbuilder_restore backup.dump"),
    ("000", "pg_restore -d bobbuilder_test latest_backup.dump"),
    ("001", "docker-compose down -v"), ("001", "docker system prune -af"),
    ("001", 'find /var/log/booky -name "*.log" -mtime +7 -delete'),
    ("002", "redis-cli -u $REDIS_URL FLUSHDB"), ("002", "turso db destroy <your-db-name>"),
    ("003", "psql $DATABASE_URL < backup.sql"),
    ("003", 'gunzip < backup.sql.gz | psql $DATABASE_URL'),
    ("004", 'redis-cli -a "$REDIS_PASSWORD" FLUSHDB'),
]
SEED_SAFE = ["lsof -i :3000", "pg_isready", "npm run dev", "psql $DATABASE_URL -c \"SELECT 1\"",
             "docker-compose ps", "pm2 status", "git push origin main", "curl http"]


@pytest.fixture(scope="module")
def seed_steps() -> dict[str, list[dict]]:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds not present")
    plans = {}
    for seed in sorted(SEEDS.glob("*.txt")):
        out = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(seed),
                              "--format", "json", "--granularity", "command"],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        plans[seed.name[:3]] = json.loads(out.stdout)["steps"]
    return plans


def test_seeds_keep_their_dangerous_commands(seed_steps: dict[str, list[dict]]) -> None:
    for seed, code in SEED_DANGER:
        matching = [s for s in seed_steps[seed] if s["code"].strip() == code]
        assert matching, (seed, code)
        assert all(s["danger"] for s in matching), (seed, code)


def test_seeds_keep_their_everyday_commands_quiet(seed_steps: dict[str, list[dict]]) -> None:
    for steps in seed_steps.values():
        for step in steps:
            if any(step["code"].startswith(code) for code in SEED_SAFE):
                assert step["danger"] == [], step["code"]


# ---------------------------------------------------------------- docs and robustness


def test_docs_list_the_rules_as_the_tables_say() -> None:
    document = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    assert danger_doc.embedded(document) == danger_doc.rules_markdown(), (
        "docs/format.md is stale: run python -m runbook_engine.danger_doc --write docs/format.md")


_ALPHABET = list("ab $<>{}()'\"`\\#;|&=-\n\t/*.:") + [
    "rm ", "-rf ", "sudo ", "ssh h ", "kubectl ", "delete ", "DROP ", "TABLE ", "DELETE FROM ",
    "WHERE ", "<<EOF\n", "EOF\n", "$(", "sh -c ", "psql ", "-c ", "FLUSHALL", "db.x.drop()",
    "Remove-Item ", "-Recurse ", "curl -X DELETE ", "http://h/_reset ", "<PID>", "xargs ",
]
_LANGS = ["bash", "sql", "powershell", "cmd", "redis", "mongo", "http", "python", "text", ""]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=60), st.sampled_from(_LANGS))
def test_never_raises_on_arbitrary_text(pieces: list[str], lang: str) -> None:
    reasons = danger_reasons("".join(pieces), lang)
    assert isinstance(reasons, list) and all(isinstance(r, str) and r for r in reasons)
    assert len(reasons) == len(set(reasons))


def _cpu_seconds(code: str, lang: str) -> float:
    # CPU time of this process, best of five distinct texts (so no memo answers); the cycle
    # collector's pauses grow with the heap, not with the algorithm: keep it out
    best = float("inf")
    gc.disable()
    try:
        for i in range(5):
            text = f"{code} #{i}"
            start = time.process_time()
            danger_reasons(text, lang)
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize(("fragment", "lang"), [
    ("sudo rm -rf /x; kubectl -n p delete pod y && echo ok\n", "bash"),
    ('"$(', "bash"), ("<<EOF\n", "bash"), ("ssh h 'sh -c \"", "bash"), ("a=b ", "bash"),
    ('echo "$(rm -rf x)" ', "bash"), ("kubectl delete pod <a b c ", "bash"),
    ("DELETE FROM t ", "sql"), ("ALTER TABLE t ", "sql"), ("VACUUM (", "sql"),
    ("db.x.", "mongo"), ("db.getSiblingDB(", "mongo"), ("Remove-Item -Recurse ", "powershell"),
    ("`\n", "powershell"), ("DEL k\n", "redis"), ("del /s x & ", "cmd"),
])
def test_time_grows_linearly_with_input(fragment: str, lang: str) -> None:
    # 8x the input may cost at most ~20x the time (a quadratic step would cost ~64x)
    small = _cpu_seconds(fragment * 500, lang)
    large = _cpu_seconds(fragment * 4000, lang)
    assert large < 20 * max(small, 1e-3), (small, large)
