"""A fleet in the terminal: a fan-out step's output folded by host when an attempt ends
(``clubak -b``), and the host x step grid that ends a fleet run."""

from __future__ import annotations

from collections.abc import Sequence

from ..folding import compact_diff, fold_outputs, fold_rows
from ..state import RunState
from .highlight import Styled

#: lines kept per host and attempt for the folded view (the transcript has them all)
FOLD_LINES = 1000
#: a status in the grid: its mark and colour
MARKS = {"ok": ("✓", "green"), "failed": ("✗", "red"), "timeout": ("T", "red"),
         "interrupted": ("⊘", "red"), "error": ("!", "red"), "blocked": ("⊘", "yellow"),
         "skipped": ("↷", "yellow"), "": ("·", "dim")}
COLUMN_CHARS = 14  # a step id longer than this is cut in the grid's header

Line = tuple[str, str]  # (stream, text)


class HostOutputs:
    """One attempt of a fan-out step: what each host printed, kept to be shown folded."""

    def __init__(self, step: str, hosts: Sequence[str]) -> None:
        self.step = step
        self.lines: dict[str, list[Line]] = {host: [] for host in hosts}
        self.more: dict[str, int] = {host: 0 for host in hosts}
        self._partial: dict[tuple[str, str], str] = {}  # an over-long line comes in pieces

    def add(self, host: str, stream: str, text: str) -> None:
        text = self._partial.pop((host, stream), "") + text
        if not text.endswith("\n"):
            text, _, rest = text.rpartition("\n")
            self._partial[(host, stream)] = rest
        self._keep(host, stream, text.splitlines())

    def _keep(self, host: str, stream: str, lines: list[str]) -> None:
        kept = self.lines.setdefault(host, [])
        self.more.setdefault(host, 0)
        room = max(FOLD_LINES - len(kept), 0)
        kept += [(stream, line) for line in lines[:room]]
        self.more[host] += len(lines[room:])

    def folded(self) -> list[Styled]:
        """Each group of hosts that printed the same once; those that differ from the majority
        as a diff against it; nothing when no host printed anything."""
        for (host, stream), rest in self._partial.items():  # a last line without its newline
            self._keep(host, stream, [rest])
        self._partial = {}
        keys = {host: (tuple(lines), self.more[host]) for host, lines in self.lines.items()}
        if not any(lines or more for lines, more in keys.values()):
            return []
        folds, majority = fold_outputs(keys)
        out: list[Styled] = []
        for fold in folds:
            lines, more = fold.key
            count = len(fold.hosts)
            head = Styled(fold.label, "bold magenta")
            if count > 1:
                head.append(f" ({count} hosts)", "magenta")
            if fold.odd and majority is not None:
                out.append(head.append(f" differs from {majority.label}:", "magenta"))
                out += _diff(majority.key[0], lines)
            elif not lines:
                out.append(head.append(": no output", "dim"))
                continue
            else:
                out.append(head.append(":", "magenta"))
                out += [Styled("  ").append(text, "red" if stream == "stderr" else "")
                        for stream, text in lines]
            if more:
                out.append(Styled(f"  … {more} more lines (in the transcript)", "dim"))
        return out


def _diff(majority: Sequence[Line], lines: Sequence[Line]) -> list[Styled]:
    def text(line: Line) -> str:
        return line[1] + ("  (stderr)" if line[0] == "stderr" else "")

    styles = {"-": "cyan", "+": "yellow"}  # red is kept for failures (as in output checks)
    return [Styled(f"  {line}", styles.get(line[:1], "dim"))
            for line in compact_diff([text(x) for x in majority], [text(x) for x in lines])]


def grid_lines(state: RunState) -> list[Styled]:
    """The host x step grid (hosts with the same results folded), or nothing for a run that
    did not run on two hosts or more."""
    steps, rows = state.host_grid()
    if not steps:
        return []
    folded = fold_rows({host: tuple(cells.get(s, "") for s in steps)
                        for host, cells in rows.items()})
    width = max(len(label) for label, _ in folded)
    heads = [s if len(s) <= COLUMN_CHARS else s[:COLUMN_CHARS - 1] + "…" for s in steps]
    seen = dict.fromkeys(status for _, cells in folded for status in cells)
    legend = "  ".join(f"{MARKS.get(s, ('?', ''))[0]} {s or 'not run'}" for s in seen)
    lines = [Styled(f"Hosts × steps ({legend}):", "bold"),
             Styled(" " * (width + 4) + "  ".join(heads), "dim")]
    for label, cells in folded:
        line = Styled(f"  {label.ljust(width)}  ", "magenta")
        for column, (head, status) in enumerate(zip(heads, cells, strict=True)):
            mark, style = MARKS.get(status, ("?", ""))
            line.append(mark, style)
            if column < len(heads) - 1:
                line.append(" " * (len(head) + 1))
        lines.append(line)
    return lines
