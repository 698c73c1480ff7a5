"""Quote each substituted value for every layer that reads it, so it arrives as data.

``shellctx.contexts`` says which layers surround a position (a shell word, quotes, a
here-document, another shell's code, SQL); each layer has one escaping rule here, applied from
the innermost reader out. A value that no rule can carry safely (a non-number in arithmetic, a
line that would end a here-document, anything but a plain word in code we cannot quote for) is
refused with a reason instead of being substituted. No jinja here.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import lazyre
from .shellctx import Context, Heredoc, Layer, Role, contexts


class QuotingError(ValueError):
    """A value that cannot be placed where it is used without changing the command."""


_NUMBER_RE = lazyre.compile(r"[+-]?[0-9]+")
_PLAIN_RE = lazyre.compile(r"[A-Za-z0-9_.,:/@%+=-]*")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SQL_PLAIN_RE = lazyre.compile(rf"-?[0-9]+(?:\.[0-9]+)?|{_IDENT}(?:\.{_IDENT})*")


def _word(value: str, layer: Layer) -> str:
    return shlex.quote(value)


def _squote(value: str, layer: Layer) -> str:
    return value.replace("'", "'\\''")


def _dquote(value: str, layer: Layer) -> str:
    return re.sub(r'([\\$`"])', r"\\\1", value)


def _dquote_param(value: str, layer: Layer) -> str:
    if "'" in value:  # bash pairs single quotes in "${x:-...}" and keeps them as written
        raise QuotingError("has a single quote, which bash cannot take inside \"${name:-...}\"")
    return re.sub(r'([\\$`"}])', r"\\\1", value)


def _ansi(value: str, layer: Layer) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _backtick(value: str, layer: Layer) -> str:
    return re.sub(r'([\\$`"])' if layer.in_dquote else r"([\\$`])", r"\\\1", value)


def _tabs(value: str, layer: Layer) -> str:
    if layer.strip_tabs and ("\n\t" in value or (layer.tag == "line-start" and
                                                 value.startswith("\t"))):
        raise QuotingError("has a line starting with a tab, which <<- would remove")
    return value


def _heredoc(value: str, layer: Layer) -> str:
    return re.sub(r"([\\$`])", r"\\\1", _tabs(value, layer))


def _arith(value: str, layer: Layer) -> str:
    if not _NUMBER_RE.fullmatch(value):
        raise QuotingError("is used in arithmetic, where bash runs $(...) even inside quotes: "
                           "only a whole number can go there")
    return value


def _opaque(value: str, layer: Layer) -> str:
    if not _PLAIN_RE.fullmatch(value):
        raise QuotingError("lands in code of a language this tool cannot quote for: only "
                           "letters, digits and _ . , : / @ % + = - can go there")
    return value


def _refuse(value: str, layer: Layer) -> str:
    raise QuotingError("is inside $(...) or backticks in text another program runs as code: "
                       "what that command prints cannot be quoted")


def _sql_string(value: str, layer: Layer) -> str:
    if layer.tag == "backslash" or layer.dialect == "mysql":
        value = value.replace("\\", "\\\\")
    return value.replace("'", "''")


def _sql_ident(value: str, layer: Layer) -> str:
    return value.replace(layer.tag, layer.tag * 2)


def _sql_bare(value: str, layer: Layer) -> str:
    """A number or a (dotted) identifier as written; anything else as a string literal."""
    if _SQL_PLAIN_RE.fullmatch(value):
        return value
    return "'" + _sql_string(value, layer) + "'"


def _sql_dollar(value: str, layer: Layer) -> str:
    if "$" in value:
        raise QuotingError(f"contains '$', which could end the {layer.tag}-quoted string")
    return value


def _sql_comment(value: str, layer: Layer) -> str:
    if layer.tag == "line" and ("\n" in value or "\r" in value):
        raise QuotingError("has a line break inside an SQL -- comment")
    if layer.tag == "block" and ("*/" in value or "/*" in value):
        raise QuotingError("contains a comment marker inside an SQL /* */ comment")
    return value


#: how each reader (shellctx.Layer.kind) is given a value as data
ESCAPES: dict[str, Callable[[str, Layer], str]] = {
    "word": _word, "squote": _squote, "dquote": _dquote, "dquote_param": _dquote_param,
    "ansi": _ansi,
    "backtick": _backtick, "heredoc": _heredoc, "heredoc_q": _tabs, "arith": _arith,
    "opaque": _opaque, "refuse": _refuse, "sql_string": _sql_string, "sql_ident": _sql_ident,
    "sql_bare": _sql_bare, "sql_dollar": _sql_dollar, "sql_comment": _sql_comment,
}


def quote(value: str, context: Context) -> str:
    """``value`` escaped for each layer of ``context``, innermost reader first."""
    if "\0" in value:
        raise QuotingError("contains a NUL byte, which no shell can pass on")
    for layer in reversed(context):
        value = ESCAPES[layer.kind](value, layer)
    return value


@dataclass(frozen=True)
class Substitution:
    """Replace ``code[start:end]`` (a placeholder, a ``q`` marker) by ``value``, quoted."""

    start: int
    end: int
    value: str
    label: str  # for messages: "<NAME>", "{{ name | q }}"


def substitute(code: str, subs: Sequence[Substitution], role: Role | None = None) -> str:
    """``code`` with each substitution quoted for where it lands; QuotingError (naming the
    value) when one cannot be placed safely or would end a here-document early."""
    if not subs:
        return code
    found, docs = contexts(code, [(s.start, s.end) for s in subs], role)
    out: list[str] = []
    shifts: list[tuple[int, int]] = []  # (original end, growth so far)
    pos = growth = 0
    for sub, context in zip(subs, found, strict=True):
        try:
            quoted = quote(sub.value, context)
        except QuotingError as exc:
            raise QuotingError(f"the value of {sub.label} {exc}") from None
        out += [code[pos:sub.start], quoted]
        growth += len(quoted) - (sub.end - sub.start)
        shifts.append((sub.end, growth))
        pos = sub.end
    out.append(code[pos:])
    result = "".join(out)
    if docs:
        _same_heredocs(result, docs, shifts, subs, role)
    return result


def _moved(position: int, shifts: list[tuple[int, int]]) -> int:
    growth = 0
    for end, total in shifts:
        if end > position:
            break
        growth = total
    return position + growth


def _same_heredocs(result: str, docs: list[Heredoc], shifts: list[tuple[int, int]],
                   subs: Sequence[Substitution], role: Role | None) -> None:
    """Refuse a result whose here-documents end elsewhere than the written ones did."""
    inside = [d for d in docs if any(d.start <= s.start < d.end for s in subs)]
    if not inside:
        return
    _, now = contexts(result, [], role)
    ends = {(d.start, d.end) for d in now}
    for doc in inside:
        if (_moved(doc.start, shifts), _moved(doc.end, shifts)) not in ends:
            culprit = next(s for s in subs if doc.start <= s.start < doc.end)
            raise QuotingError(f"the value of {culprit.label} has a line that would end the "
                               f"here-document ({doc.delimiter}) early")
