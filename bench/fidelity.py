"""Reading fidelity (issue 9): how closely the plan of each corpus runbook matches the hand labels.

Each runbook of tests/corpus is loaded through the user-facing plan (the same document as
`runbook plan --format json`) and compared, block by block, with tests/corpus/labels.jsonl.
Counted steps are those a person can run or copy: `executable` ones and `manual` ones with code.
A block spans from its fence line to the line before the next labelled block (or the end).
Scoring: a block agrees when its steps start exactly at the labelled command lines (the line of
an `ssh host` / `psql ...` opener or an `exit` closer counts when a step of the block runs in
that session, its `session_lines`: the tool read it as the target or interpreter); a labelled
command runs in the last counted step of its block starting at or before it, and is warned about
when that step has `danger`; a placeholder counts as found in a step's `placeholders` or as a
`<name>` in its `targets`; a target matches a step target as written (or its host part, when the
label has no user); fed-to needs a step whose interpreter names the client (CLIENT_NAMES).

Run: python bench/fidelity.py [--corpus DIR] [--granularity auto|block|command] [--json]
     [--verbose] [--record]   (--record appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "corpus"
RESULTS = ROOT / "bench" / "RESULTS.md"
BIG = 10**9  # the span end of a file's last block

# Names an interpreter may carry for each labelled client (`fed_to`).
CLIENT_NAMES: dict[str, tuple[str, ...]] = {
    "psql": ("psql", "gitlab-psql"),
    "mysql": ("mysql", "mariadb"),
    "sqlite3": ("sqlite3", "sqlite"),
    "redis-cli": ("redis-cli",),
    "mongosh": ("mongosh", "mongo"),
    "python": ("python", "python3", "manage.py"),
    "rails": ("rails", "gitlab-rails", "irb"),
    "zkCli.sh": ("zkCli.sh", "zkCli"),
}

# Thresholds of issue 9 ("Done when"), as fractions.
THRESHOLDS = {"block_agreement": 0.95, "command_precision": 0.98, "command_recall": 0.98,
              "danger_recall": 1.0, "placeholder_recall": 0.95, "target_hits": 1.0,
              "fed_to_hits": 1.0}
MAX_FALSE_ALARMS = 0.03


@dataclass
class Tally:
    """Counts for one file or the whole corpus; ratios are derived from them."""

    blocks: int = 0
    blocks_agreeing: int = 0
    labelled_commands: int = 0
    predicted_commands: int = 0
    matched_commands: int = 0
    dangerous: int = 0
    dangerous_flagged: int = 0
    safe: int = 0
    safe_flagged: int = 0
    placeholders: int = 0
    placeholders_found: int = 0
    targets: int = 0
    targets_found: int = 0
    fed_to: int = 0
    fed_to_found: int = 0
    failed: str | None = None
    disagreements: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)

    def ratios(self) -> dict[str, float | None]:
        return {
            "block_agreement": _ratio(self.blocks_agreeing, self.blocks),
            "command_precision": _ratio(self.matched_commands, self.predicted_commands),
            "command_recall": _ratio(self.matched_commands, self.labelled_commands),
            "danger_recall": _ratio(self.dangerous_flagged, self.dangerous),
            "false_alarms": _ratio(self.safe_flagged, self.safe),
            "placeholder_recall": _ratio(self.placeholders_found, self.placeholders),
            "target_hits": _ratio(self.targets_found, self.targets),
            "fed_to_hits": _ratio(self.fed_to_found, self.fed_to),
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def load_labels(corpus: Path) -> dict[str, list[dict[str, Any]]]:
    """The labels of each file, in file order."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    with (corpus / "labels.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                label = json.loads(line)
                by_file.setdefault(label["file"], []).append(label)
    return {name: sorted(labels, key=lambda lab: lab["line"]) for name, labels in by_file.items()}


def plan_steps(path: Path, granularity: str | None) -> list[dict[str, Any]]:
    """The counted steps of the user-facing plan of one runbook (raises if it cannot load)."""
    from runbook_engine.cli import plan_doc

    try:
        from runbook_engine.load import Selection, load
    except ImportError:  # before loading left cli.py
        from runbook_engine.cli import load as old_load  # type: ignore[attr-defined]

        loaded = old_load(str(path), granularity, ())
    else:
        loaded = load(str(path), selection=Selection(granularity=granularity))
    steps = plan_doc(loaded)["steps"]
    return [s for s in steps
            if s.get("executable") or (s.get("kind") == "manual" and s.get("code"))]


def spans(labels: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """(first, last) file line of each labelled block: its fence up to the next block."""
    starts = [label["line"] for label in labels]
    return [(start, (starts[i + 1] - 1) if i + 1 < len(starts) else BIG)
            for i, start in enumerate(starts)]


def score_file(name: str, labels: Sequence[dict[str, Any]],
               steps: Sequence[dict[str, Any]] | None, failure: str | None = None) -> Tally:
    """Compare one file's steps with its labels; `steps` None means the file did not load."""
    tally = Tally(failed=failure)
    if failure is not None:
        tally.disagreements.append(f"{name}: the tool failed to load it: {failure}")
    all_steps = list(steps or ())
    first_block = labels[0]["line"] if labels else BIG
    stray = sorted(s["line"] for s in all_steps if s["line"] < first_block)
    tally.predicted_commands += len(stray)
    if stray:
        tally.disagreements.append(f"{name}: steps before the first block at lines {stray}")
    for label, (start, end) in zip(labels, spans(labels), strict=True):
        in_block = sorted((s for s in all_steps if start <= s["line"] <= end),
                          key=lambda s: s["line"])
        _score_block(name, label, in_block, tally)
    return tally


def _score_block(name: str, label: dict[str, Any], steps: list[dict[str, Any]],
                 tally: Tally) -> None:
    where = f"{name}:{label['line']}"
    expected = set(label["command_lines"])
    got = {s["line"] for s in steps} | _session_lines(label, steps)
    tally.blocks += 1
    tally.blocks_agreeing += expected == got and tally.failed is None
    tally.labelled_commands += len(expected)
    tally.predicted_commands += len(got)
    tally.matched_commands += len(expected & got)
    if expected != got or tally.failed is not None:
        tally.disagreements.append(
            f"{where}: expected commands at {sorted(expected)} got steps at {sorted(got)}")
    _score_danger(where, label, steps, tally)
    _score_placeholders(where, label, steps, tally)
    _score_target(where, label, steps, tally)
    _score_fed_to(where, label, steps, tally)


def _session_lines(label: dict[str, Any], steps: list[dict[str, Any]]) -> set[int]:
    """Lines of the block that opened or closed the session its steps run in (`ssh host`,
    `psql ...`, `exit`): read by the tool as the steps' target or interpreter, so commands read."""
    code = {line for s in steps for line in s.get("session_lines") or ()}
    return {line for line in code if line > label["line"]} - {s["line"] for s in steps} \
        if code else set()


def _containing(steps: list[dict[str, Any]], line: int) -> dict[str, Any] | None:
    """The step a command line runs in: the last counted step starting at or before it (a
    session opener before the first step runs in none: opening a session changes nothing)."""
    before = [s for s in steps if s["line"] <= line]
    return before[-1] if before else None


def _score_danger(where: str, label: dict[str, Any], steps: list[dict[str, Any]],
                  tally: Tally) -> None:
    dangerous = set(label["dangerous"])
    for line in label["command_lines"]:
        step = _containing(steps, line)
        flagged = bool(step and step.get("danger"))
        file_line = f"{where.split(':')[0]}:{line}"
        if line in dangerous:
            tally.dangerous += 1
            tally.dangerous_flagged += flagged
            if not flagged:
                tally.disagreements.append(f"{file_line}: expected dangerous got no danger")
        else:
            tally.safe += 1
            tally.safe_flagged += flagged
            if flagged and step is not None:
                tally.disagreements.append(
                    f"{file_line}: expected safe got danger {step.get('danger')}")


def _score_placeholders(where: str, label: dict[str, Any], steps: list[dict[str, Any]],
                        tally: Tally) -> None:
    found = {str(p) for s in steps for p in s.get("placeholders") or ()}
    found |= {name for s in steps for target in s.get("targets") or ()
              for name in re.findall(r"<([^<>]+)>", target)}
    missing = [p for p in label["placeholders"] if p not in found]
    tally.placeholders += len(label["placeholders"])
    tally.placeholders_found += len(label["placeholders"]) - len(missing)
    if missing:
        tally.disagreements.append(
            f"{where}: expected placeholders {missing} got {sorted(found)}")


def _score_target(where: str, label: dict[str, Any], steps: list[dict[str, Any]],
                  tally: Tally) -> None:
    target = label["target"]
    if target is None:
        return
    got = {str(t) for s in steps for t in s.get("targets") or ()}
    hit = any(t == target or ("@" not in target and t.split("@")[-1] == target) for t in got)
    tally.targets += 1
    tally.targets_found += hit
    if not hit:
        tally.disagreements.append(f"{where}: expected target {target} got {sorted(got)}")


def _score_fed_to(where: str, label: dict[str, Any], steps: list[dict[str, Any]],
                  tally: Tally) -> None:
    client = label["fed_to"]
    if client is None:
        return
    interpreters = [str(s.get("interpreter")) for s in steps if s.get("interpreter")]
    hit = any(_names_client(i, client) for i in interpreters)
    tally.fed_to += 1
    tally.fed_to_found += hit
    if not hit:
        tally.disagreements.append(f"{where}: expected fed to {client} got {interpreters}")


def _names_client(interpreter: str, client: str) -> bool:
    words = [Path(w).name for w in re.split(r"\s+", interpreter.strip()) if w]
    names = CLIENT_NAMES.get(client, (client,))
    return bool(words) and (any(words[0].startswith(n) for n in names)
                            or any(w in names for w in words))


def measure(corpus: Path = CORPUS,
            granularity: str | None = None) -> tuple[Tally, dict[str, Tally]]:
    """Score every labelled runbook; a file the tool cannot load counts as all wrong."""
    overall, per_file = Tally(), {}
    for name, labels in load_labels(corpus).items():
        try:
            steps: list[dict[str, Any]] | None = plan_steps(corpus / name, granularity)
            failure = None
        except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure is a result here
            steps, failure = None, f"{type(error).__name__}: {error}"
        tally = score_file(name, labels, steps, failure)
        per_file[name] = tally
        overall.add(tally)
        overall.disagreements.extend(tally.disagreements)
    return overall, per_file


def meets_thresholds(overall: Tally) -> list[str]:
    """The thresholds of issue 9 that the figures miss (empty when all are met)."""
    ratios = overall.ratios()
    misses = []
    for name, floor in THRESHOLDS.items():
        value = ratios[name]
        if value is not None and value < floor:
            misses.append(f"{name} {value:.3f} < {floor}")
    alarms = ratios["false_alarms"]
    if alarms is not None and alarms > MAX_FALSE_ALARMS:
        misses.append(f"false_alarms {alarms:.3f} > {MAX_FALSE_ALARMS}")
    return misses


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def summary_lines(overall: Tally, granularity: str | None) -> list[str]:
    r = overall.ratios()
    o = overall
    return [
        f"granularity {granularity or 'default'}: {o.blocks} blocks, "
        f"{o.labelled_commands} labelled commands, {o.dangerous} dangerous",
        f"- block agreement {_pct(r['block_agreement'])} ({o.blocks_agreeing}/{o.blocks})",
        f"- commands: precision {_pct(r['command_precision'])} "
        f"({o.matched_commands}/{o.predicted_commands}), recall {_pct(r['command_recall'])} "
        f"({o.matched_commands}/{o.labelled_commands})",
        f"- danger: recall {_pct(r['danger_recall'])} ({o.dangerous_flagged}/{o.dangerous}), "
        f"false alarms {_pct(r['false_alarms'])} ({o.safe_flagged}/{o.safe})",
        f"- placeholders {_pct(r['placeholder_recall'])} ({o.placeholders_found}/{o.placeholders}),"
        f" targets {o.targets_found}/{o.targets}, fed-to {o.fed_to_found}/{o.fed_to}",
    ]


def file_rows(per_file: dict[str, Tally]) -> Iterable[str]:
    yield f"{'file':44} {'blocks':>9} {'prec':>6} {'recall':>6} {'danger':>7} {'alarms':>7}"
    for name, t in per_file.items():
        r = t.ratios()
        note = "  LOAD FAILED" if t.failed else ""
        yield (f"{name:44} {t.blocks_agreeing:>4}/{t.blocks:<4} {_pct(r['command_precision']):>6}"
               f" {_pct(r['command_recall']):>6} {t.dangerous_flagged:>3}/{t.dangerous:<3}"
               f" {t.safe_flagged:>3}/{t.safe:<3}{note}")


def record(overall: Tally, granularity: str | None, corpus: Path) -> None:
    """Append the figures, with the date and the code measured, to bench/RESULTS.md."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = corpus.resolve().relative_to(ROOT) if corpus.resolve().is_relative_to(ROOT) else corpus
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip() or "?"
    title = f"Reading fidelity (issue 9) ({stamp}, bench/fidelity.py, {where}, code at {head})"
    lines = [f"\n## {title}", "", *summary_lines(overall, granularity)]
    failed = [d for d in overall.disagreements if "failed to load" in d]
    if failed:
        lines.append(f"- files the tool failed to load: {len(failed)}")
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def report(overall: Tally, per_file: dict[str, Tally], args: argparse.Namespace) -> None:
    """Print the figures (text or JSON), with every disagreement when asked."""
    if args.json:
        doc = {"granularity": args.granularity, "overall": overall.ratios(),
               "counts": {k: v for k, v in asdict(overall).items() if isinstance(v, int)},
               "files": {n: {"ratios": t.ratios(), "failed": t.failed}
                         for n, t in per_file.items()},
               "missed_thresholds": meets_thresholds(overall)}
        if args.verbose:
            doc["disagreements"] = overall.disagreements
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join([*summary_lines(overall, args.granularity), "", *file_rows(per_file)]))
        if args.verbose:
            print("\n".join(["", *overall.disagreements]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--granularity", choices=["auto", "block", "command"], default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", action="store_true", help="list every disagreement")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    overall, per_file = measure(args.corpus, args.granularity)
    try:
        report(overall, per_file, args)
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout for the rest of the exit
    if args.record:
        record(overall, args.granularity, args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
