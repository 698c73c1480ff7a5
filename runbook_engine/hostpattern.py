"""``--limit PATTERN``: Ansible's host patterns for the common cases, as a pure selection.

Terms are separated by ``,`` (or by ``:`` when there is no comma). A term is a host or group
name, ``all`` or ``*``, a glob (``web*``, ``db-?``: matched against host and group names), a
regular expression after ``~``, or ``@FILE`` (a file of terms, one a line, ``#`` comments: an
Ansible retry file). ``!term`` leaves hosts out, ``&term`` keeps only hosts also in the term.
As in Ansible, the plain terms are joined first, then intersected, then excluded."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from . import lazyre
from .model import UsageError

_GLOB = lazyre.compile(r"[*?\[]")


def split_pattern(pattern: str) -> list[str]:
    """The terms of a pattern: on ``,`` if it has one, else on ``:`` (Ansible's old form)."""
    separator = "," if "," in pattern else ":"
    return [term.strip() for term in pattern.split(separator) if term.strip()]


def _terms(pattern: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """Terms with each ``@FILE`` replaced by the terms written in it (with its ``!``/``&``)."""
    out: list[str] = []
    for term in split_pattern(pattern):
        mark = term[0] if term[0] in "!&" else ""
        body = term[len(mark):]
        if not body.startswith("@"):
            out.append(term)
            continue
        path = body[1:]
        if path in seen:
            raise UsageError(f"--limit: {path} includes itself")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--limit: {path}: {exc.strerror or exc}") from None
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out += [mark + t if mark and t[0] not in "!&" else t
                        for t in _terms(line, seen | {path})]
    return out


def _matching(term: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    """The hosts one term (without ``!``/``&``) names."""
    if term in ("all", "*"):
        return list(hosts)
    if term in groups:
        return list(groups[term])
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise UsageError(f"--limit: bad regular expression {term[1:]!r}: {exc}") from None
        names = [h for h in hosts if regex.search(h)]
        return names + [h for g, members in groups.items() if regex.search(g) for h in members]
    if _GLOB.search(term):
        names = [h for h in hosts if fnmatch.fnmatchcase(h, term)]
        return names + [h for g, members in groups.items() if fnmatch.fnmatchcase(g, term)
                        for h in members]
    return [term] if term in hosts else []


def select_hosts(pattern: str, hosts: Iterable[str],
                 groups: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The hosts (of ``hosts``, in their order) the pattern selects. ``groups``: group name →
    its hosts. A pattern of only ``!``/``&`` terms starts from every host."""
    universe = list(dict.fromkeys(hosts))
    groups = groups or {}
    terms = _terms(pattern)
    if not terms:
        raise UsageError("--limit: an empty pattern")
    plain = [t for t in terms if t[0] not in "!&"]
    chosen: set[str] = set()
    for term in plain or ["all"]:
        chosen.update(_matching(term, universe, groups))
    for term in (t for t in terms if t.startswith("&")):
        chosen &= set(_matching(term[1:], universe, groups))
    for term in (t for t in terms if t.startswith("!")):
        chosen -= set(_matching(term[1:], universe, groups))
    return [h for h in universe if h in chosen]
