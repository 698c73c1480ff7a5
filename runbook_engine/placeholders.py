"""Placeholders as people write them in runbooks: where they are, what they are called, their form.

A foundation module (no imports from parse/, engine or template): the command splitter masks the
spans, safety lists the names, template substitutes values at the spans. One detector, so what the
plan asks for is exactly what the engine fills in.

Forms, most explicit first (an earlier form wins where two overlap):

- ``angle``: ``<PID>``, ``<pod-name>``, ``<your db name>`` (spaces allowed inside, never a split
  point); not ``<<EOF``, ``<(cmd)``, ``< file`` or ``<-`` redirections;
- ``curly``: ``{namespace}``, ``{resource-group}`` (one pair of braces around a name);
- ``bracket``: ``[DB_USERNAME]``, ``[your-bucket]``, ``[db name]`` (not globs, tests, arrays);
- ``your``: ``YOUR_API_TOKEN``, ``your-domain.com``, ``your_password``, ``yourdomain.com``;
- ``changeme``: ``CHANGEME``, ``change-me``, ``REPLACE_ME``, ``REPLACE_WITH_TOKEN``;
- ``xxx``: ``xxx``, ``XXXXXXXX``, ``i-xxxxxxxx``, ``sk_live_xxxx`` (three or more x's as a word or
  after an id prefix);
- ``example-host``: ``example.com``, ``api.example.org``, ``admin@example.net`` (RFC 2606 names:
  the reader's own host goes there);
- ``ip``: ``x.x.x.x``, ``10.0.0.x`` (an address with a letter for an octet);
- ``version``: ``X.Y.Z``, ``vX.Y`` (named ``X.Y``: the ``v`` stays), ``x.y.z`` in release
  procedures;
- ``device``: ``/dev/sdX``, ``/dev/sdX1`` (named ``sdX``: the disk to fill in);
- ``date``: ``YYYY-MM-DD``, ``YYYYMMDD_HHMM`` (a time stamp to fill in);
- ``caps``: ``-u DB_USER``, ``/dev/disk/by-id/DISK_NAME`` (capitals ending in a noun people fill
  in: NAME, ID, HOST, USER, PASSWORD, TOKEN...) as the value of an option or the last part of a
  path; never ``$DB_HOST``, ``DB_HOST=...``, an env name given to ``-e``/``export``, a bare word
  (``cat BUILD_ID`` reads a file) nor capitals inside SQL.

Bare words such as ``x``, ``EOF``, ``NAME`` or ``HOST`` are never placeholders: shape alone cannot
tell them from literals.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from . import lazyre

__all__ = ["PlaceholderSpan", "find_placeholders", "mask_placeholders", "placeholder_names"]


class PlaceholderSpan(NamedTuple):
    """One placeholder in a text: its name (what ``--var`` sets), where it is and its form."""

    name: str
    start: int
    end: int
    form: str


# (form, pattern, group holding the name); order is priority where matches overlap
_FORMS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    # <name> / <two words>: a letter first, no '<' before (heredoc), no '(' after (process subst.)
    ("angle", lazyre.compile(r"(?<!<)<([A-Za-z][A-Za-z0-9_.:/@ -]{0,60}?[A-Za-z0-9_.#])>"), 1),
    ("angle", lazyre.compile(r"(?<!<)<([A-Za-z])>"), 1),
    # {namespace}, {resource-group}: one brace pair around a name, as a word or path part (not
    # ${var}, {{ template }}, {a,b} expansions, find's {} nor awk's {print $1})
    ("curly", lazyre.compile(r"(?<![\w${'])\{([A-Za-z][A-Za-z0-9_-]{0,40}(?: [A-Za-z0-9_-]{1,20})"
                             r"{0,3})\}(?![\w}])"), 1),
    # [DB_USERNAME], [your-bucket], [db name]: a bracketed name that no glob or test reads as
    # written (capitals joined by '_', or lowercase words joined by '-', '_' or a space)
    ("bracket", lazyre.compile(r"(?<![\w$\[])\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
                               r"|[a-z]{2,}(?:[-_ ][a-z]{2,})+)\](?![\w\](])"), 1),
    ("your", lazyre.compile(
        r"(?<![\w$./-])((?:YOUR|MY)_[A-Z0-9]+(?:_[A-Z0-9]+)*"
        r"|(?:[a-z0-9-]+\.)*your[-_][a-z0-9]+(?:[-_.][a-z0-9]+)*"
        r"|your(?:domain|server|host|hostname|bucket|project|cluster|company|org|app|site|user"
        r"|username|password|token|key|email|region|namespace|name|ip)(?:\.[a-z]{2,6})*)"
        r"(?![\w-])"), 1),
    ("changeme", lazyre.compile(
        r"(?<![\w$-])((?:CHANGE[_-]?ME|REPLACE[_-]?ME|change-?me|replace-?me)"
        r"|REPLACE_WITH_[A-Z0-9_]+|PUT_[A-Z0-9_]+_HERE)(?![\w-])"), 1),
    ("xxx", lazyre.compile(
        r"(?<![\w$.-])((?:[A-Za-z][A-Za-z0-9]*[-_])*(?:x{3,}|X{3,})(?:-(?:x+|X+))*)(?![\w])"), 1),
    ("example-host", lazyre.compile(
        r"(?<![\w.-])((?:[\w-]+@)?(?:[A-Za-z0-9-]+\.)*example\.(?:com|org|net))(?![\w-])"), 1),
    ("ip", lazyre.compile(
        r"(?<![\w.])((?:(?:\d{1,3}|[xX]{1,3})\.){3}(?:\d{1,3}|[xX]{1,3}))(?![\w.])"), 1),
    # `vX.Y.Z` asks for X.Y.Z: the `v` stays, so one answer fills `X.Y.Z` and `vX.Y.Z`
    ("version", lazyre.compile(r"(?<![\w.])v?(X\.Y(?:\.Z)?|x\.y(?:\.z)?|X\.X\.X|x\.x\.x)(?![\w.])"),
     1),
    # /dev/sdX, /dev/sdX1, /dev/xvdX: the disk letter to fill in
    ("device", lazyre.compile(r"(?<=/dev/)((?:sd|hd|vd|xvd)X)(?![A-Za-z])"), 1),
    # a date or time to fill in: YYYY, YYYY-MM-DD, YYYYMMDD_HHMM, YYYY-MM-DD_HH-MM
    ("date", lazyre.compile(r"(?<![\w$])(YYYY(?:[-_.]?MM(?:[-_.]?DD(?:[-_T]?HH(?:[-_:]?MM"
                            r"(?:[-_:]?SS)?)?)?)?)?)(?![\w])"), 1),
    # DISK_NAME, OLD_DISK_ID: capitals with an underscore ending in a noun a reader fills in,
    # written bare where a value goes (not $VAR, not NAME=, not an env name given to -e/export)
    ("caps", lazyre.compile(
        r"(?<![\w$.{-])(?<!-e )(?<!--env )(?<!export )(?<!unset )(?<!printenv )(?<!env )"
        r"(?<!env -u )"
        r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:NAME|ID|IP|HOST|HOSTNAME|ADDR|ADDRESS|USER|USERNAME"
        r"|PASS|PASSWORD|TOKEN|KEY|PORT|DB|DATABASE|REGION|ZONE|BUCKET|CLUSTER|NAMESPACE|NS"
        r"|VERSION|TAG|URL|DOMAIN|EMAIL|ACCOUNT|PROJECT|NODE|POD|SERVICE|GROUP|SUBSCRIPTION|DISK"
        r"|DEVICE|VOLUME|SNAPSHOT|BRANCH|COMMIT|SHA|TICKET|INSTANCE|VM|SERVER))(?![\w=(])"), 1),
)
# a form's pattern is tried only when one of its marks is in the text (plan time matters)
_MARKS = {"angle": ("<",), "curly": ("{",), "bracket": ("[",),
          "your": ("YOUR_", "MY_", "your"), "xxx": ("xxx", "XXX"),
          "changeme": ("CHANGE", "change", "REPLACE", "replace", "PUT_"),
          "example-host": ("example.",), "ip": ("x.", "X."), "version": ("X.", "x."),
          "device": ("/dev/",),
          "date": ("YYYY",), "caps": ("_",)}


_MARK_RE = lazyre.compile("|".join(re.escape(m) for marks in _MARKS.values() for m in marks))
_MARK_FORMS: dict[str, set[str]] = {}
for _form, _marks in _MARKS.items():
    for _mark in _marks:
        _MARK_FORMS.setdefault(_mark, set()).add(_form)
#: where a bare capitals placeholder stands: the value of an option, or the end of a path
_CAPS_PLACE = lazyre.compile(r"(?:(?:^|\s)--?[A-Za-z][\w-]*[ =]|/)$")
#: a capitals placeholder later on the line, in its usual place (after `/` or an option)
_CAPS_LATER = lazyre.compile(r"(?:/"
                             r"|\s--?[A-Za-z][\w-]*[ =])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:NAME|ID"
                             r"|DISK|DEVICE|HOST|IP|USER|TOKEN|KEY|PASSWORD)\b")
_SQL = lazyre.compile(r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH|GRANT)\b",
                      re.M | re.I)


@lru_cache(maxsize=65536)
def _find(text: str) -> tuple[PlaceholderSpan, ...]:
    taken: list[tuple[int, int]] = []
    found: list[PlaceholderSpan] = []
    present = {form for m in set(_MARK_RE.findall(text)) for form in _MARK_FORMS[m]}
    if not present:
        return ()
    for form, pattern, group in _FORMS:
        if form not in present:
            continue
        if form == "caps" and _SQL.search(text):
            continue  # capitals in SQL are columns and tables, not values to fill in
        for match in pattern.finditer(text):
            start, end = match.span(group if form == "version" else 0)
            if any(start < b and a < end for a, b in taken):
                continue
            name = match.group(group).strip()
            if form == "ip" and "x" not in name.lower():
                continue  # a real address
            if form == "angle" and not _angle_ok(text, start, end, name):
                continue
            if form == "caps" and not _CAPS_PLACE.search(text, max(0, start - 40), start) \
                    and not _in_company(found, text, start):
                continue  # `cat BUILD_ID` reads a file: only an option's value or a path part
            if form in ("curly", "bracket") and _SQL.search(text):
                continue  # `[dbo].[orders]`, `{fn NOW()}`: SQL's own brackets
            taken.append((start, end))
            found.append(PlaceholderSpan(name, start, end, form))
    return tuple(sorted(found, key=lambda s: s.start)) if len(found) > 1 else tuple(found)


def _in_company(found: list[PlaceholderSpan], text: str, start: int) -> bool:
    """A bare capitals word on a line that already asks for a placeholder (``zpool replace tank
    OLD_DISK_ID /dev/disk/by-id/DISK_NAME``): placeholders come together."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    return any(line_start <= span.start < line_end for span in found) or bool(
        _CAPS_LATER.search(text, start + 1, line_end))


def _angle_ok(text: str, start: int, end: int, name: str) -> bool:
    """Not a redirection between two words (``sort <in >out``) nor an HTML/XML tag pair."""
    if "  " in name or name.endswith((" ", "-")):
        return False
    if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
        # `List<String>` is a type; `-p<password>` (an option glued to its value) is not
        word = re.search(r"[\w-]*$", text[:start])
        if word is None or not word.group().startswith("-"):
            return False
    if " " in name:
        # `<two words>` is a placeholder; `a <b c> d` with `c>` redirecting is not written by people
        return all(re.fullmatch(r"[A-Za-z0-9_.:/@-]+", part) for part in name.split(" "))
    # <tag>...</tag> in a heredoc of XML/HTML is markup, not a placeholder
    return f"</{name}>" not in text and not text.startswith(f"</{name}>", end)


def find_placeholders(text: str) -> list[PlaceholderSpan]:
    """Every placeholder of ``text`` in order (comments included: callers filter by context)."""
    return list(_find(text))


def placeholder_names(text: str) -> list[str]:
    """Placeholder names in first-appearance order, each once."""
    return list(dict.fromkeys(span.name for span in _find(text)))


#: forms whose brackets a shell parser would read (redirection, grouping, globs)
_WORDLIKE = frozenset({"angle", "curly", "bracket"})


def mask_placeholders(text: str) -> str:
    """The text with each ``<…>``, ``{…}`` and ``[…]`` placeholder as a same-length word
    (``_xxxx_``), so a shell parser sees one word where bash would read a redirection, a group
    or a glob, or split at a space."""
    spans = [s for s in _find(text) if s.form in _WORDLIKE]
    if not spans:
        return text
    out, pos = [], 0
    for span in spans:
        out.append(text[pos:span.start])
        width = span.end - span.start
        out.append("_" + "x" * (width - 2) + "_")
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
