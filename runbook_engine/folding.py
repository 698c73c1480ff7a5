"""Folded multi-host views, the way ClusterShell's ``clubak -b`` shows them: host names folded
into ranges (``web[01-03],db1``), hosts grouped by identical output, the hosts that differ from
the majority shown with a compact diff against it, and host x step grids folded by row."""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from . import lazyre

K = TypeVar("K", bound=Hashable)

_NUMBERED = lazyre.compile(r"\A(?P<prefix>.*?)(?P<digits>\d+)(?P<suffix>\D*)\Z", re.S)
#: a diff against the majority shows at most this many lines (then says how many more differ)
DIFF_LINES = 40


def fold_names(names: Iterable[str]) -> str:
    """``web01,web02,web03,db1`` → ``web[01-03],db1``: names that differ only in their last
    number fold into one bracketed range (zero padding kept); groups in order of first use."""
    numbered: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str] | str] = []
    for name in dict.fromkeys(names):
        match = _NUMBERED.match(name)
        if match is None:
            order.append(name)
            continue
        key = (match.group("prefix"), match.group("suffix"))
        if key not in numbered:
            numbered[key] = []
            order.append(key)
        numbered[key].append(match.group("digits"))
    parts: list[str] = []
    for item in order:
        if isinstance(item, str):
            parts.append(item)
            continue
        prefix, suffix = item
        digits = numbered[item]
        if len(digits) == 1:
            parts.append(f"{prefix}{digits[0]}{suffix}")
            continue
        parts.append(f"{prefix}[{_ranges(digits)}]{suffix}")
    return ",".join(parts)


def _ranges(digits: Sequence[str]) -> str:
    """``['01', '02', '03', '07']`` → ``01-03,07``. Padded numbers (a leading zero) keep their
    width; an unpadded number of that width joins them (``09``, ``10``); others stand apart."""
    widths = {len(d) for d in digits if len(d) > 1 and d.startswith("0")}
    width = max(widths) if widths else 0
    padded = sorted({int(d) for d in digits if width and len(d) == width})
    natural = sorted({int(d) for d in digits if not (width and len(d) == width)})
    spans = [_spans(padded, width), _spans(natural, 0)]
    return ",".join(s for s in spans if s)


def _spans(numbers: Sequence[int], width: int) -> str:
    out: list[str] = []
    start = prev = None
    for number in [*numbers, None]:
        if number is not None and prev is not None and number == prev + 1:
            prev = number
            continue
        if start is not None and prev is not None:
            low, high = f"{start:0{width}d}", f"{prev:0{width}d}"
            out.append(low if start == prev else f"{low}-{high}")
        start = prev = number
    return ",".join(out)


@dataclass(frozen=True)
class Fold(Generic[K]):
    """Hosts that printed the same thing (``key``). ``odd``: it differs from the majority
    (``majority`` is then the majority's fold), so it is shown as a diff against it."""

    hosts: tuple[str, ...]
    key: K
    odd: bool = False

    @property
    def label(self) -> str:
        return fold_names(self.hosts)


def fold_outputs(outputs: Mapping[str, K]) -> tuple[list[Fold[K]], Fold[K] | None]:
    """Group hosts by identical output: (the folds, largest first, and the majority's fold).
    There is a majority when one group is larger than every other (or there is one group);
    every other fold is then ``odd``. All different (or tied): no majority, nothing odd."""
    groups: dict[K, list[str]] = {}
    for host, key in outputs.items():
        groups.setdefault(key, []).append(host)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))  # stable: first seen first
    majority = None
    if len(ordered) == 1 or (ordered and len(ordered[0][1]) > len(ordered[1][1])):
        majority = Fold(tuple(ordered[0][1]), ordered[0][0])
    folds = [Fold(tuple(hosts), key, odd=majority is not None and key != majority.key)
             for key, hosts in ordered]
    return folds, majority


def compact_diff(majority: Sequence[str], other: Sequence[str],
                 limit: int = DIFF_LINES) -> list[str]:
    """How ``other`` differs from ``majority``, line by line: ``- `` the majority's line, ``+ ``
    this host's, one line of context, ``…`` between distant changes; at most ``limit`` lines."""
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(a=majority, b=other, autojunk=False)
    for group in matcher.get_grouped_opcodes(1):
        if lines:
            lines.append("…")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                lines += [f"  {line}" for line in majority[a1:a2]]
                continue
            lines += [f"- {line}" for line in majority[a1:a2]]
            lines += [f"+ {line}" for line in other[b1:b2]]
    if len(lines) > limit:
        more = sum(1 for line in lines[limit:] if line[:1] in "-+")
        lines = [*lines[:limit], f"… {more} more changed lines"]
    return lines


def fold_rows(rows: Mapping[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    """A host x step grid with hosts of identical rows folded: [(``web[1-3]``, cells)]."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for host, cells in rows.items():
        groups.setdefault(cells, []).append(host)
    return [(fold_names(hosts), cells) for cells, hosts in groups.items()]
