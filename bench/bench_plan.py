"""Benchmark `runbook plan`: 10k/20k-step scaling in-process and a fresh process vs bare imports.

Targets (issue 2): 10,000 steps plan in < 1 s; 20,000 take <= 2.2x 10,000; `runbook plan SEED` as
a fresh process takes <= 1.5x `python -c "import markdown_it, yaml, jinja2, rich"`.
Issue 9: a plain 1,000-line runbook read by content (auto) plans in a fresh process well under 1 s.
Run: python bench/bench_plan.py  (appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_engine.graph import build_graph, select  # noqa: E402
from runbook_engine.parse import load_runbook  # noqa: E402
from runbook_engine.render import plan_document, plan_json  # noqa: E402
from runbook_engine.variables import initial_variables  # noqa: E402

SEED = ROOT.parent / "shared" / "seeds" / "000_354c440e5cc73968.txt"


def synthetic(n: int) -> str:
    out = io.StringIO()
    out.write("---\ntitle: synthetic\nvars:\n  name: world\n---\n# Synthetic\n\n")
    for i in range(n):
        if i % 100 == 0:
            out.write(f"## Section {i // 100}\n\n")
        out.write(f"{i % 9 + 1}. **Step number {i}**\n\n```bash\necho {{{{ name }}}} {i}\n```\n\n")
    return out.getvalue()


def plain_book(lines: int) -> str:
    """A plain runbook of about ``lines`` lines in the habits the reader handles: commands,
    output after a prompt of prose, transcripts, SQL, YAML, PowerShell."""
    parts = ["# Plain operations guide\n\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(
            f"## Service {i}\n\nCheck it on `app-{i:02d}`:\n\n```bash\n"
            f"sudo systemctl status svc{i} --no-pager\njournalctl -u svc{i} -n 50 --no-pager\n"
            f"kubectl -n prod-{i} get pods\n```\n\nYou should see:\n\n```\n"
            f"NAME          READY   STATUS    RESTARTS   AGE\nsvc{i}-7d9f   1/1     Running   0"
            f"          3d\n```\n\n```console\n$ curl -s http://localhost:80{i % 10}/health\n"
            f'{{"status": "ok"}}\n```\n\nIn psql:\n\n```sql\nSELECT count(*) FROM jobs_{i}'
            f"\n WHERE state = 'stuck';\nUPDATE jobs_{i} SET state = 'retry' WHERE id = <job id>;"
            f"\n```\n\nThe config:\n\n```yaml\nreplicas: 3\nimage: svc{i}:1.2.{i}\n```\n\n"
            f"```powershell\nGet-Service -Name Svc{i} | Restart-Service\n```\n\n")
        i += 1
    return "".join(parts)


def plan_in_process(path: Path) -> float:
    start = time.perf_counter()
    runbook = load_runbook(path)
    variables = initial_variables(runbook, {}, {})
    graph = build_graph(runbook, known=set(variables))
    doc = plan_document(graph, select(graph), variables)
    plan_json(doc)
    return time.perf_counter() - start


def best_of(func, repeat: int) -> float:  # type: ignore[no-untyped-def]
    return min(func() for _ in range(repeat))


def fresh_process(args: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p10, p20 = Path(tmp, "s10k.md"), Path(tmp, "s20k.md")
        p10.write_text(synthetic(10_000))
        p20.write_text(synthetic(20_000))
        t10 = best_of(lambda: plan_in_process(p10), 3)
        t20 = best_of(lambda: plan_in_process(p20), 3)
    # pip byte-compiles an installed package; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as here) would recompile every module on every start instead.
    import compileall

    compileall.compile_dir(str(ROOT / "runbook_engine"), quiet=1)
    seed = SEED if SEED.exists() else ROOT / "books" / "host-health.md"
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "plain-1000.md")
        plain.write_text(plain_book(1000))
        t_plain = fresh_process([sys.executable, "-m", "runbook_engine", "plan", str(plain),
                                 "--format", "json"])
        steps = len(load_runbook(plain).steps)
    baseline = fresh_process([sys.executable, "-c", "import markdown_it, yaml, jinja2, rich"])
    ours = fresh_process([sys.executable, "-m", "runbook_engine", "plan", str(seed)])
    ours_json = fresh_process([sys.executable, "-m", "runbook_engine", "plan", str(seed),
                               "--format", "json"])
    lines = [
        f"- 10,000 steps: {t10:.3f} s (target < 1 s) {'PASS' if t10 < 1 else 'FAIL'}",
        f"- 20,000 steps: {t20:.3f} s = {t20 / t10:.2f}x 10,000 (target <= 2.2x) "
        f"{'PASS' if t20 / t10 <= 2.2 else 'FAIL'}",
        f"- fresh `runbook plan {seed.name}` (text): {ours * 1000:.0f} ms vs bare imports "
        f"{baseline * 1000:.0f} ms = {ours / baseline:.2f}x (target <= 1.5x) "
        f"{'PASS' if ours / baseline <= 1.5 else 'FAIL'}",
        f"- fresh `runbook plan {seed.name} --format json`: {ours_json * 1000:.0f} ms = "
        f"{ours_json / baseline:.2f}x bare imports",
        f"- fresh `runbook plan` of a plain 1,000-line runbook read by content ({steps} steps, "
        f"--format json): {t_plain * 1000:.0f} ms (target well under 1 s) "
        f"{'PASS' if t_plain < 0.5 else 'FAIL'}",
    ]
    report = f"\n## bench_plan.py, {dt.date.today().isoformat()}\n\n" + "\n".join(lines) + "\n"
    print(report)
    results = ROOT / "bench" / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\nAppended by the scripts in bench/.\n")
    with results.open("a") as handle:
        handle.write(report)


if __name__ == "__main__":
    main()
