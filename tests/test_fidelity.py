"""The labelled corpus (issue 9 part 7): a lint of the hand labels, coverage, and the thresholds.

Block positions come from markdown-it's own tokens, not from the project's parser, so that the
labels are checked independently of the code they measure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from markdown_it import MarkdownIt

CORPUS = Path(__file__).resolve().parent / "corpus"
LABELS = CORPUS / "labels.jsonl"
SOURCES = CORPUS / "SOURCES.md"
KINDS = {"commands", "transcript", "output", "config", "code", "prose"}
RUNNABLE = {"commands", "transcript"}
FIELDS = {"file", "line", "kind", "command_lines", "dangerous", "placeholders", "target",
          "fed_to"}
CLIENTS = {"psql", "mysql", "sqlite3", "redis-cli", "mongosh", "python", "rails", "sqlplus",
           "rman", "sqlcmd", "cqlsh", "clickhouse-client", "zkCli.sh"}


@dataclass(frozen=True)
class Block:
    """A fenced or indented code block: its label line and the lines that hold its code."""

    line: int
    first_code: int
    last_code: int
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join(self.lines[self.first_code - 1:self.last_code])


def runbooks() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.md") if p.name != SOURCES.name)


@cache
def blocks(name: str) -> tuple[Block, ...]:
    """Every fence and indented block of a corpus file, from markdown-it token maps."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    lines = tuple(text.split("\n"))
    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        start, end = token.map
        if token.type == "code_block":
            found.append(Block(start + 1, start + 1, end, lines))
            continue
        closed = end - 1 > start and lines[end - 1].strip()[:3] in ("```", "~~~")
        found.append(Block(start + 1, start + 2, end - 1 if closed else end, lines))
    return tuple(found)


@cache
def labels() -> tuple[dict, ...]:
    with LABELS.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def block_of(label: dict) -> Block | None:
    return next((b for b in blocks(label["file"]) if b.line == label["line"]), None)


def label_problems(label: dict) -> list[str]:
    """Everything wrong with one label, as `file:line: problem` strings."""
    where = f"{label.get('file')}:{label.get('line')}"
    if set(label) != FIELDS:
        return [f"{where}: fields {sorted(label)} != {sorted(FIELDS)}"]
    if not (CORPUS / label["file"]).is_file():
        return [f"{where}: no such corpus file"]
    block = block_of(label)
    if block is None:
        return [f"{where}: no fence or indented block starts at this line"]
    problems = []
    commands, dangerous = label["command_lines"], label["dangerous"]
    if label["kind"] not in KINDS:
        problems.append(f"{where}: unknown kind {label['kind']!r}")
    if commands != sorted(set(commands)):
        problems.append(f"{where}: command_lines not sorted and unique")
    outside = [n for n in commands if not block.first_code <= n <= block.last_code]
    if outside:
        problems.append(f"{where}: command lines {outside} outside the block's code lines")
    blank = [n for n in commands if n not in outside and not block.lines[n - 1].strip()]
    if blank:
        problems.append(f"{where}: command lines {blank} are blank")
    if not set(dangerous) <= set(commands):
        problems.append(f"{where}: dangerous {sorted(set(dangerous) - set(commands))} "
                        "are not command lines")
    if (label["kind"] in RUNNABLE) != bool(commands):
        problems.append(f"{where}: kind {label['kind']} but {len(commands)} command lines")
    if not commands and (label["placeholders"] or label["target"] or label["fed_to"]):
        problems.append(f"{where}: placeholders/target/fed_to on a block without commands")
    problems.extend(_missing_texts(label, block, where))
    if label["fed_to"] is not None and label["fed_to"] not in CLIENTS:
        problems.append(f"{where}: unknown client {label['fed_to']!r}")
    return problems


def _missing_texts(label: dict, block: Block, where: str) -> list[str]:
    """Placeholders must appear in the block; a target in the block or the paragraph before."""
    code = block.text()
    problems = [f"{where}: placeholder {name!r} not in the block"
                for name in label["placeholders"] if not _mentions(code, name)]
    target = label["target"]
    before = "\n".join(block.lines[max(0, block.line - 8):block.line - 1])
    if target is not None and target not in code and f"`{target}`" not in before:
        problems.append(f"{where}: target {target!r} neither in the block nor named just before")
    return problems


def _mentions(code: str, name: str) -> bool:
    return any(form in code for form in (f"<{name}>", f"[{name}]")) or re.search(
        rf"(?<![\w.-]){re.escape(name)}(?![\w-])", code) is not None


def test_every_label_points_at_a_block_and_its_lines() -> None:
    problems = [p for label in labels() for p in label_problems(label)]
    assert problems == []


def test_labels_cover_every_block_of_every_runbook_in_order() -> None:
    by_file: dict[str, list[int]] = {}
    for label in labels():
        by_file.setdefault(label["file"], []).append(label["line"])
    expected = {p.name: [b.line for b in blocks(p.name)] for p in runbooks()}
    missing = {name: lines for name, lines in expected.items() if by_file.get(name) != lines}
    assert missing == {}, {n: (by_file.get(n), expected[n]) for n in missing}
    assert set(by_file) == set(expected)


def _sources_table() -> dict[str, str]:
    """File name -> kind, from the Files table of SOURCES.md."""
    rows = {}
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) >= 3 and cells[0].endswith(".md"):
            rows[cells[0]] = cells[1]
    return rows


def test_corpus_size_and_source_kinds() -> None:
    table = _sources_table()
    names = {p.name for p in runbooks()}
    assert len(names) >= 30
    assert set(table) == names
    assert len(set(table.values())) >= 10
    assert sum(len(label["dangerous"]) for label in labels()) >= 60


def _fidelity() -> ModuleType:
    from bench import fidelity

    return fidelity


def _label(line: int, commands: list[int], dangerous: list[int] = [],  # noqa: B006
           placeholders: list[str] = [], target: str | None = None,  # noqa: B006
           fed_to: str | None = None) -> dict:
    return {"file": "f.md", "line": line, "kind": "commands", "command_lines": commands,
            "dangerous": dangerous, "placeholders": placeholders, "target": target,
            "fed_to": fed_to}


TWO_BLOCKS = [_label(3, [4, 5], [5], ["pod"], "ops@<host>"), _label(10, [11], fed_to="psql")]


def test_scores_a_reading_that_matches_the_labels() -> None:
    steps = [{"line": 4, "danger": [], "placeholders": ["pod"], "targets": ["ops@<host>"]},
             {"line": 5, "danger": ["rm deletes"], "targets": ["ops@<host>"]},
             {"line": 11, "interpreter": "psql -h db", "targets": ["local"]}]
    tally = _fidelity().score_file("f.md", TWO_BLOCKS, steps)
    assert tally.disagreements == []
    ratios = tally.ratios()
    assert ratios.pop("false_alarms") == 0.0
    assert set(ratios.values()) == {1.0}


def test_scores_a_block_reading_by_the_step_each_command_runs_in() -> None:
    steps = [{"line": 3, "danger": ["rm deletes"], "placeholders": ["pod"], "targets": ["local"]},
             {"line": 10, "interpreter": None, "targets": ["local"]}]
    tally = _fidelity().score_file("f.md", TWO_BLOCKS, steps)
    ratios = tally.ratios()
    assert (ratios["block_agreement"], ratios["command_precision"], ratios["command_recall"]) \
        == (0.0, 0.0, 0.0)
    assert (ratios["danger_recall"], ratios["false_alarms"]) == (1.0, 0.5)
    assert (ratios["placeholder_recall"], ratios["target_hits"], ratios["fed_to_hits"]) \
        == (1.0, 0.0, 0.0)
    assert "f.md:3: expected commands at [4, 5] got steps at [3]" in tally.disagreements
    assert "f.md:4: expected safe got danger ['rm deletes']" in tally.disagreements


def test_a_runbook_the_tool_cannot_load_counts_as_all_wrong(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text(
        "---\ntitle: [unclosed\n---\n\n```bash\necho hi\n```\n\n```\nhi\n```\n")
    output = {**_label(9, []), "kind": "output", "file": "broken.md"}
    (tmp_path / "labels.jsonl").write_text(
        json.dumps({**_label(5, [6]), "file": "broken.md"}) + "\n" + json.dumps(output) + "\n")
    bench = Path(__file__).resolve().parent.parent / "bench" / "fidelity.py"
    done = subprocess.run([sys.executable, str(bench), "--corpus", str(tmp_path), "--json",
                           "--verbose"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "front matter" in doc["files"]["broken.md"]["failed"]
    assert doc["overall"]["command_recall"] == doc["overall"]["block_agreement"] == 0.0
    assert any("failed to load" in line for line in doc["disagreements"])


#: the reading's thresholds (issue 9); the danger rules' are in the test after this one
READING = ("block_agreement", "command_precision", "command_recall", "placeholder_recall",
           "target_hits", "fed_to_hits")


def _misses(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    fidelity = _fidelity()
    overall, _ = fidelity.measure(CORPUS, None)
    misses = [m for m in fidelity.meets_thresholds(overall) if m.split()[0] in names]
    return misses, overall.disagreements


def test_reading_fidelity_meets_its_issue_9_thresholds() -> None:
    misses, disagreements = _misses(READING)
    assert misses == [], "\n".join(disagreements[:80])


def test_danger_fidelity_meets_its_issue_9_thresholds() -> None:
    misses, disagreements = _misses(("danger_recall", "false_alarms"))
    assert misses == [], "\n".join(disagreements[:80])
