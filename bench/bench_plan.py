"""Benchmark `runbook plan`: 10k/20k-step scaling in-process and a fresh process vs bare imports.

Targets (issue 2): 10,000 steps plan in < 1 s; 20,000 take <= 2.2x 10,000; `runbook plan SEED` as
a fresh process takes <= 1.5x `python -c "import markdown_it, yaml, jinja2, rich"`.
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
