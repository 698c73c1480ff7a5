"""Compare what a step printed with the output its runbook says to expect (JSON or text)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import lazyre, regexes

Verdict = Literal["matches", "differs", "no expectation"]
Mode = Literal["json", "text", "regex", "none"]

#: lines of diff shown at most (the rest is counted): a diff is read at a prompt, under pressure
DIFF_LINES = 24
#: a line holding only this (or the Unicode ellipsis) stands for any number of lines
ELLIPSIS = ("...", "…")


@dataclass(frozen=True)
class Comparison:
    """The verdict, how it was compared (json/text) and, when it differs, a short readable diff."""

    verdict: Verdict
    mode: Mode = "none"
    diff: str = ""

    @property
    def matches(self) -> bool:
        return self.verdict == "matches"

    def as_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "mode": self.mode, "diff": self.diff}


NO_EXPECTATION = Comparison("no expectation")


# ---------------------------------------------------------------- volatile values

# What changes from run to run although the output means the same: each kind matches any value
# of the same kind, so "started 2026-01-02T10:00:00Z" matches "started 2026-03-04T11:12:13Z".
# Order matters: the first kind that matches a token names it.
_VOLATILE: tuple[tuple[str, str], ...] = (
    ("time", r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?"  # systemd: "since Mon 2026-01-05 ..."
             r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
             r"(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?)?"),
    ("time", r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
             r"|Oct|Nov|Dec)[a-z]* \d{4}(?: \d{2}:\d{2}:\d{2})?(?: GMT| UTC| [+-]\d{4})?"),
    ("time", r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +\d{1,2}"
             r"(?: \d{4})?(?: \d{2}:\d{2}(?::\d{2})?)?"),
    ("time", r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"),
    ("id", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("version", r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?"),
    ("address", r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/\d{1,2})?"),
    ("duration", r"(?:\d+(?:\.\d+)?(?:ms|us|µs|ns|[smhdwy])){1,4}"),
    ("size", r"\d+(?:\.\d+)?\s?(?:[KMGTP]i?B?|[kKMGT]i|bytes)\b"),
    ("percent", r"\d+(?:\.\d+)?%"),
    # Kubernetes-style generated suffixes: web-7d9f8b6c5-x2x4q, job-28374650-abcde
    ("id", r"(?<=-)(?=[a-z0-9]*\d)[a-z0-9]{5,10}(?:-[a-z0-9]{5})?(?![\w.])"),
    ("id", r"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,64}"),  # hashes, container ids
    ("number", r"(?<!-)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"),  # web-1 is a name
)
_TOKEN_RE = lazyre.compile("|".join(f"(?P<k{i}>{pattern})" for i, (_, pattern) in
                                enumerate(_VOLATILE)))
_KINDS = {f"k{i}": kind for i, (kind, _) in enumerate(_VOLATILE)}
# A volatile token must stand alone: not glued to letters or digits, and not part of a ratio
# (READY 1/1 against 0/1 is news, not noise).
_BOUNDED = lazyre.compile(r"(?<![\w./])(?:" + _TOKEN_RE.pattern + r")(?![\w/])")


def volatile_kind(text: str) -> str | None:
    """The kind of volatile value the whole text is (``time``, ``id``…), or None if literal."""
    match = _TOKEN_RE.fullmatch(text.strip())
    if match is None or match.lastgroup is None:
        return None
    return _KINDS[match.lastgroup]


# What looks volatile but says how things went: an HTTP status after ``HTTP/1.1`` (200 and 503
# are both numbers), and a line that is only 0, 1 or an HTTP status (``curl -w '%{http_code}'``,
# ``psql -Atc 'SELECT 1'``, a count of errors that should be 0). Other lone numbers are counters.
_LITERAL = lazyre.compile(r"(?<=HTTP/\d )\d{3}\b|(?<=HTTP/\d\.\d )\d{3}\b|\A\s*(?:[01]"
                          r"|[1-5]\d\d)\s*\Z")
_ANSI = lazyre.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def normalise_line(line: str) -> str:
    """A line with volatile tokens replaced by ``<kind>`` and runs of blanks made one space."""

    def token(match: re.Match[str]) -> str:
        if literal and match.start() in literal:
            return match.group(0)
        name = next((g for g, v in match.groupdict().items() if v is not None), None)
        return f"<{_KINDS[name]}>" if name else match.group(0)

    literal = {m.start() + len(m.group(0)) - len(m.group(0).lstrip())
               for m in _LITERAL.finditer(line)}
    return " ".join(_BOUNDED.sub(token, line).split())


# ---------------------------------------------------------------- the entry point


def compare(expected: str | None, actual: str, *, sample: bool = False) -> Comparison:
    """Compare a step's output with its expectation: JSON structurally, otherwise line by line.

    ``sample``: the expectation shows part of the output ("something like:", "Example output"),
    so the output may hold more: lines around and between the expected ones (kept in order),
    keys and array items the expectation leaves out.
    """
    if expected is None or not expected.strip():
        return NO_EXPECTATION
    wanted, elided = _json_value(expected), False
    if wanted is _NOT_JSON:
        wanted, elided = _elided_json(expected), True
    if wanted is not _NOT_JSON:
        got = _find_json(_plain(actual))
        if got is _NOT_JSON:
            return Comparison("differs", "json", _text_diff(expected, actual,
                                                            "output is not JSON"))
        problems = list(_json_differences(wanted, got, "$", sample or elided))
        if not problems:
            return Comparison("matches", "json")
        return Comparison("differs", "json", _cap(problems))
    return _compare_text(expected, actual, sample)


def search(pattern: str, actual: str) -> Comparison:
    """The ``expect`` annotation: a regular expression the output must contain (strict)."""
    try:
        found = regexes.search(pattern, actual, re.M) is not None
    except re.error as exc:
        return Comparison("differs", "regex", f"bad regular expression: {exc}")
    except regexes.PatternTimeout as exc:
        return Comparison("differs", "regex", str(exc))
    if found:
        return Comparison("matches", "regex")
    return Comparison("differs", "regex", f"output does not match expect {pattern}")


# ---------------------------------------------------------------- JSON

_NOT_JSON: Any = object()


def _json_value(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return _NOT_JSON
    try:
        return json.loads(stripped)
    except ValueError:
        return _NOT_JSON


# "..." standing for the keys or items an expectation leaves out: a line of its own, or an item
_ELIDED_LINE = lazyre.compile(r"^[ \t]*(?:\.\.\.|…)[ \t]*,?[ \t]*$\n?", re.M)
_ELIDED_ITEM = lazyre.compile(r",\s*(?:\.\.\.|…)(?=\s*[\]}])|(?<=[\[{])\s*(?:\.\.\.|…)\s*,?")
_TRAILING_COMMA = lazyre.compile(r",(\s*[\]}])")


def _elided_json(text: str) -> Any:
    """``{"status": "ok", ...}``: JSON once its ``...`` are taken out (a sample of the output)."""
    if "..." not in text and "…" not in text:
        return _NOT_JSON
    cut = _TRAILING_COMMA.sub(r"\1", _ELIDED_ITEM.sub("", _ELIDED_LINE.sub("", text)))
    return _json_value(cut)


def _find_json(text: str) -> Any:
    """The first JSON object or array in the output (after curl's headers, a log line…)."""
    value = _json_value(text)
    if value is not _NOT_JSON:
        return value
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\s*[\[{]", text, re.M):
        try:
            value, _end = decoder.raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        if isinstance(value, dict | list):
            return value
    return _NOT_JSON


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


#: numbers under these keys say how things went (an HTTP status, an exit code, errors): literal
_LITERAL_KEYS = lazyre.compile(r"(?:^|[_-])(?:status|code|statuscode|exit|errors?|failures?"
                               r"|failed)$",
                               re.IGNORECASE)


def _json_differences(want: Any, got: Any, where: str, sample: bool = False,
                      key: str = "") -> Iterator[str]:
    """Yield one readable line per difference, each naming its JSON path. ``sample``: more
    keys and items in the output are fine (the expectation shows some of them)."""
    kind, got_kind = _kind_of(want), _kind_of(got)
    if kind != got_kind:
        yield f"{where}: expected {kind} {_short(want)}, got {got_kind} {_short(got)}"
        return
    if kind == "object":
        for name in want:
            if name not in got:
                yield f"{where}.{name}: missing (expected {_short(want[name])})"
            else:
                yield from _json_differences(want[name], got[name], f"{where}.{name}", sample,
                                             name)
        for name in got:
            if name not in want and not sample:
                yield f"{where}.{name}: not expected (got {_short(got[name])})"
    elif kind == "array":
        yield from _array_differences(want, got, where, sample)
    elif kind == "string":
        if want != got and not _same_volatile(want, got):
            yield f"{where}: expected {_short(want)}, got {_short(got)}"
    elif want != got and (kind in ("boolean", "null")
                          or kind == "number" and _LITERAL_KEYS.search(key)):
        yield f"{where}: expected {_short(want)}, got {_short(got)}"
    # other numbers are counters, sizes, durations: any number matches a number


def _array_differences(want: list[Any], got: list[Any], where: str,
                       sample: bool) -> Iterator[str]:
    if not sample:
        if len(want) != len(got):
            yield f"{where}: expected {len(want)} item(s), got {len(got)}"
        for index, (w, g) in enumerate(zip(want, got, strict=False)):
            yield from _json_differences(w, g, f"{where}[{index}]")
        return
    at = 0  # a sample: each expected item matches a later item of the output, in order
    for index, item in enumerate(want):
        found = next((j for j in range(at, len(got))
                      if not any(_json_differences(item, got[j], "", True))), None)
        if found is None:
            yield f"{where}[{index}]: no item like {_short(item)} in the output"
            continue
        at = found + 1


def _same_volatile(want: str, got: str) -> bool:
    kind = volatile_kind(want)
    if kind is not None:
        return kind == volatile_kind(got)
    # "3 days, 4:05:06" or "up 12 min": literal words with volatile parts
    return normalise_line(want) == normalise_line(got)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- text


def _plain(text: str) -> str:
    """Output as a reader sees it: no colour codes, no carriage returns of progress lines."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text.replace("\r\n", "\n")


def _lines(text: str) -> list[str]:
    lines = [line.rstrip().rsplit("\r", 1)[-1] for line in _plain(text).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _line_pattern(line: str) -> re.Pattern[str]:
    """One expected line as a regex over a normalised actual line (``...`` inside: anything)."""
    parts = re.split(r"\.\.\.|…", normalise_line(line))
    return re.compile(".*".join(re.escape(part) for part in parts) + r"\Z", re.S)


def _compare_text(expected: str, actual: str, sample: bool = False) -> Comparison:
    want, got = _lines(expected), _lines(actual)
    patterns: list[re.Pattern[str] | None] = [None if w.strip() in ELLIPSIS
                                              else _line_pattern(w) for w in want]
    if sample:  # any lines before, between and after the expected ones
        patterns = [None, *(p for pattern in patterns for p in (pattern, None))]
    normal = [normalise_line(g) for g in got]
    if _sequence_matches(patterns, normal):
        return Comparison("matches", "text")
    return Comparison("differs", "text", _text_diff(expected, actual))


def _sequence_matches(patterns: list[re.Pattern[str] | None], lines: list[str]) -> bool:
    """Do the lines match the patterns in order, ``None`` (an ellipsis line) taking any run?

    doctest's way: the runs of patterns between ellipses are found leftmost-first, the first run
    anchored at the start and the last at the end; leftmost leaves the most room for the rest.
    """
    runs: list[list[re.Pattern[str]]] = [[]]
    for pattern in patterns:
        if pattern is None:
            runs.append([])
        else:
            runs[-1].append(pattern)
    if len(runs) == 1:
        return len(lines) == len(runs[0]) and _run_at(runs[0], lines, 0)
    first, *middle, last = runs
    start, end = len(first), len(lines) - len(last)
    if end < start or not _run_at(first, lines, 0) or not _run_at(last, lines, end):
        return False
    for run in middle:
        at = next((i for i in range(start, end - len(run) + 1) if _run_at(run, lines, i)), None)
        if at is None:
            return False
        start = at + len(run)
    return True


def _run_at(run: list[re.Pattern[str]], lines: list[str], at: int) -> bool:
    return all(pattern.match(lines[at + k]) for k, pattern in enumerate(run))


#: past this many differing lines either side, difflib's quadratic alignment is not attempted
_ALIGN_LIMIT = 2000


def _text_diff(expected: str, actual: str, note: str = "") -> str:
    """A unified-style diff of the original lines, aligned on their normalised forms.

    The common head and tail are cut first (linear); difflib aligns only what is left, and only
    when that is small: a diff is read at a prompt, and a capped one says enough.
    """
    want, got = _lines(expected), _lines(actual)
    norm_want = [normalise_line(w) for w in want]
    norm_got = [normalise_line(g) for g in got]
    head = 0
    while head < min(len(want), len(got)) and norm_want[head] == norm_got[head]:
        head += 1
    tail = 0
    while (tail < min(len(want), len(got)) - head
           and norm_want[-1 - tail] == norm_got[-1 - tail]):
        tail += 1
    want, got = want[head:len(want) - tail], got[head:len(got) - tail]
    norm_want, norm_got = norm_want[head:len(norm_want) - tail], norm_got[head:len(norm_got) - tail]
    opcodes: Sequence[tuple[str, int, int, int, int]] = [("replace", 0, len(want), 0, len(got))]
    if max(len(want), len(got)) <= _ALIGN_LIMIT:
        matcher = difflib.SequenceMatcher(a=norm_want, b=norm_got, autojunk=False)
        opcodes = matcher.get_opcodes()
    out: list[str] = [note] if note else []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        shown = want[i1:i2]
        if any(w.strip() in ELLIPSIS for w in shown):
            # an ellipsis stands for what it replaced: show only expected lines found nowhere
            found = set(norm_got[j1:j2])
            shown = [w for w in shown if w.strip() not in ELLIPSIS
                     and normalise_line(w) not in found]
            if not shown:
                continue
        out += [f"- {line}" for line in shown[:DIFF_LINES]]
        out += [f"+ {line}" for line in got[j1:j2][:DIFF_LINES]]
        if len(out) > DIFF_LINES:
            break
    return _cap(out or ["the output differs only where the expectation elides it"])


def _cap(lines: list[str]) -> str:
    if len(lines) <= DIFF_LINES:
        return "\n".join(lines)
    return "\n".join([*lines[:DIFF_LINES], f"… {len(lines) - DIFF_LINES} more line(s)"])
