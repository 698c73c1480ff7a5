"""Benchmark danger analysis at plan time: a 1,000-step runbook where every step is destructive.

Two books of the same shape are planned: one whose steps are destructive commands of every family
(wrapped in sudo, ssh, kubectl exec, heredocs, SQL, PowerShell...), and one whose steps are
everyday read-only commands of the same tools. The ratio of their plan times is what the danger
analysis costs when it has the most to do (target <= 1.2x); the analysis alone is timed per step.
Run: python bench/bench_danger.py  (appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_engine.danger import danger_reasons  # noqa: E402

# (fence language, destructive command, an everyday command of the same tool)
PAIRS = [
    ("bash", "sudo rm -rf /srv/app/releases/{i}", "ls -la /srv/app/releases/{i}"),
    ("bash", "kubectl -n prod-{i} --context eu delete pod api-{i}",
     "kubectl -n prod-{i} --context eu get pod api-{i}"),
    ("bash", "ssh web{i} 'sudo systemctl stop app{i}'", "ssh web{i} 'systemctl status app{i}'"),
    ("bash", "docker compose -f prod.yml down -v --remove-orphans",
     "docker compose -f prod.yml ps"),
    ("bash", "gunzip -c /backups/shop-{i}.sql.gz | docker exec -i db psql -U app shop",
     "docker exec -i db psql -U app shop -c 'SELECT {i}'"),
    ("bash", "curl -s -X DELETE http://es:9200/logs-{i}", "curl -s http://es:9200/logs-{i}/_count"),
    ("bash", "redis-cli -h cache -n 0 del session:{i}", "redis-cli -h cache -n 0 get session:{i}"),
    ("bash", "aws --profile prod s3 rm s3://bucket/{i}/ --recursive",
     "aws --profile prod s3 ls s3://bucket/{i}/"),
    ("bash", "git -C /srv/app reset --hard origin/release-{i}", "git -C /srv/app log -n {i}"),
    ("bash", "rsync -a --delete build/ web{i}:/srv/www/", "rsync -a build/ web{i}:/srv/www/"),
    ("bash", "helm -n ns{i} uninstall api", "helm -n ns{i} status api"),
    ("bash", "cat <<'EOF' | sudo -u postgres psql\nDELETE FROM jobs_{i};\nEOF",
     "cat <<'EOF' | sudo -u postgres psql\nSELECT count(*) FROM jobs_{i};\nEOF"),
    ("sql", "UPDATE accounts_{i} SET locked = true;", "SELECT * FROM accounts_{i} LIMIT 5;"),
    ("powershell", "Remove-Item C:\\logs\\{i} -Recurse -Force", "Get-ChildItem C:\\logs\\{i}"),
    ("bash", "terraform -chdir=envs/{i} destroy -auto-approve", "terraform -chdir=envs/{i} plan"),
    ("bash", "find /var/tmp/{i} -mtime +7 -delete", "find /var/tmp/{i} -mtime +7"),
]


def book(steps: int, destructive: bool) -> str:
    out = ["# Operations\n\n"]
    for i in range(steps):
        lang, bad, good = PAIRS[i % len(PAIRS)]
        code = (bad if destructive else good).format(i=i)
        out.append(f"## Step {i}\n\nDo it:\n\n```{lang}\n{code}\n```\n\n")
    return "".join(out)


def fresh_plan(path: Path, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(path), "--format",
                        "json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def analysis_cpu(destructive: bool, rnd: int, steps: int = 1000) -> tuple[float, int]:
    """CPU seconds of danger_reasons over every step's code (each text new, so no memo
    answers), and how many steps it flagged."""
    codes = [(lang, (bad if destructive else good).format(i=rnd * steps + i))
             for i, (lang, bad, good) in ((i, PAIRS[i % len(PAIRS)]) for i in range(steps))]
    start = time.process_time()
    flagged = sum(1 for lang, code in codes if danger_reasons(code, lang))
    return time.process_time() - start, flagged


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bad, good = Path(tmp, "destructive.md"), Path(tmp, "everyday.md")
        bad.write_text(book(1000, destructive=True))
        size = bad.read_text().count("\n")
        good.write_text(book(1000, destructive=False))
        rounds = [(fresh_plan(bad, 1), fresh_plan(good, 1)) for _ in range(5)]  # take turns
    t_bad = statistics.median(b for b, _ in rounds)
    t_good = statistics.median(g for _, g in rounds)
    (cpu_bad, n_bad), (cpu_good, n_good) = (min(analysis_cpu(kind, rnd) for rnd in range(3))
                                            for kind in (True, False))
    lines = [
        f"- fresh `runbook plan --format json` of 1,000 destructive steps ({size:,} lines): "
        f"{t_bad * 1000:.0f} ms; the same book of everyday commands {t_good * 1000:.0f} ms -> "
        f"{t_bad / t_good:.2f}x (target <= 1.2x: danger analysis is a small part of a plan) "
        f"{'PASS' if t_bad / t_good <= 1.2 else 'FAIL'}",
        f"- danger analysis alone, CPU per step (new text each time): destructive "
        f"{cpu_bad:.3f} ms ({n_bad}/1000 flagged), everyday {cpu_good:.3f} ms "
        f"({n_good}/1000 flagged)",
    ]
    report = (f"\n## bench_danger.py, {dt.date.today().isoformat()}\n\n" + "\n".join(lines)
              + "\n")
    print(report)
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write(report)


if __name__ == "__main__":
    main()
