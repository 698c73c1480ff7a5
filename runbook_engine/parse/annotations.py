"""Step annotations: fence info strings, ``<!-- runbook: ... -->`` comments, attribute coercion."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from .. import lazyre
from ..model import Problem

# canonical attribute name -> value type
ATTRIBUTES: dict[str, str] = {
    "id": "str", "title": "str", "description": "str", "on": "list", "needs": "list",
    "when": "str", "tags": "list", "confirm": "confirm", "danger": "bool", "safe": "bool",
    "doc": "bool", "interactive": "bool", "exclude_from_run_all": "bool", "capture": "str",
    "extract": "str", "secret": "bool", "expect": "str", "expect_exit": "int",
    "timeout": "duration", "retries": "count", "delay": "duration", "until": "bool",
    "continue_on_error": "bool", "cwd": "str", "env": "env", "shell": "str",
    "interpreter": "str", "sudo": "bool", "user": "str", "serial": "positive",
    "max_fail": "max_fail",
    "granularity": "granularity",
}

# other spellings (Runme, habits) -> canonical name; keys are already snake_case
ALIASES: dict[str, str] = {
    "name": "id", "tag": "tags", "category": "tags", "categories": "tags", "class": "tags",
    "ignore": "doc", "need": "needs", "depends_on": "needs", "after": "needs", "host": "on",
    "hosts": "on", "target": "on", "timeout_s": "timeout", "retry": "retries",
    "workdir": "cwd", "dir": "cwd", "exit_code": "expect_exit", "run_all": "exclude_from_run_all",
}

# Runme keys we accept and ignore (they describe its notebook UI, not the procedure)
IGNORED: frozenset[str] = frozenset(
    {"background", "close_terminal_on_success", "prompt_env", "mime_type", "terminal_rows",
     "skip_prompts", "interpreter_args", "runme_id"}
)

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_DURATION = lazyre.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|sec|secs|m|min|mins|h|hr|hrs|d)?", re.I)
_UNIT = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60,
         "h": 3600, "hr": 3600, "hrs": 3600, "d": 86400, None: 1}
# one pandoc-style token: #id, .class, key=value (quoted / [list] / bare), or a bare flag
_TOKEN = lazyre.compile(
    r"""\s*(?:
      \#(?P<id>[^\s{}\#.,][^\s{},]*)
    | \.(?P<cls>[^\s{}.,=][^\s{},=]*)
    | (?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<val>"(?:[^"\\]|\\.)*"|'[^']*'|\[[^\]]*\]|[^\s,}]*)
    | (?P<flag>[A-Za-z_][\w-]*)
    )\s*,?""",
    re.X,
)
_BARE_LANG = lazyre.compile(r"[\w+#.-]*")
_CAMEL = lazyre.compile(r"(?<=[a-z0-9])([A-Z])")
# the colon is required: `<!-- Runbook owner: team -->` is an ordinary comment, not ours
_COMMENT = lazyre.compile(r"^\s*<!--\s*runbook\s*:(?P<body>.*?)-->\s*$", re.S | re.I)


def _problem(sev: str, path: str, line: int, code: str, msg: str) -> Problem:
    return Problem(severity=sev, path=path, line=line, message=msg, code=code)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=512)
def normalize_key(key: str) -> str:
    """``excludeFromRunAll`` / ``continue-on-error`` -> snake_case, then alias -> canonical."""
    key = _CAMEL.sub(r"_\1", key.strip()).replace("-", "_").lower()
    return ALIASES.get(key, key)


def did_you_mean(name: str, known: list[str] | frozenset[str] | dict[str, Any]) -> str:
    """`` (did you mean "x"?)`` or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def parse_duration(value: Any) -> float:
    """``30``, ``"30s"``, ``"5m"``, ``"1h30m"`` -> seconds; ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().replace(" ", "")
        parts = list(_DURATION.finditer(text))
        if not parts or "".join(p.group(0) for p in parts) != text:
            raise ValueError("not a duration")
        seconds = sum(float(p.group(1)) * _UNIT[(p.group(2) or "").lower() or None] for p in parts)
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError("not a duration")
    return seconds


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a boolean (true/false/yes/no)")


def parse_list(value: Any) -> tuple[str, ...]:
    """``"a, b"``, ``"[a, b]"``, ``["a", "b"]`` -> ``("a", "b")``."""
    if value is None or value is True:
        raise ValueError("needs a value")
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [part.strip().strip("\"'") for part in re.split(r"[,\s]+", text)]
    return tuple(item for item in items if item)


def parse_env(value: Any) -> tuple[tuple[str, str], ...]:
    """``"A=1 B='two words'"``, ``{A: 1}`` or ``["A=1"]`` -> ``(("A", "1"), ...)``."""
    if isinstance(value, Mapping):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in value.items()]
    else:
        if isinstance(value, list | tuple):
            words = [str(v) for v in value]
        else:
            import shlex  # only needed for this spelling

            words = shlex.split(str(value))
        pairs = []
        for word in words:
            name, eq, val = word.partition("=")
            if not eq:
                raise ValueError(f"{word!r} is not NAME=value")
            pairs.append((name, val))
    for name, _ in pairs:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not a variable name")
    return tuple(pairs)


def _coerce_one(kind: str, value: Any) -> Any:
    if value is None and kind in ("bool", "confirm"):
        return True  # a bare flag
    if kind == "bool":
        return parse_bool(value)
    if value is None:
        raise ValueError("needs a value")
    if kind == "str":
        if isinstance(value, Mapping | list):
            raise ValueError("needs a text value")
        return str(value)
    if kind in ("int", "count", "positive"):
        if isinstance(value, bool) or not re.fullmatch(r"\s*-?\d+\s*", str(value)):
            raise ValueError("not a whole number")
        number = int(str(value))
        if kind == "count" and number < 0:
            raise ValueError("cannot be negative")
        if kind == "positive" and number < 1:
            raise ValueError("must be 1 or more")
        return number
    if kind == "max_fail":
        if isinstance(value, bool) or not re.fullmatch(r"\d+%?", str(value).strip()):
            raise ValueError("a number of hosts or a percentage (2, 25%)")
        return str(value).strip()
    if kind == "duration":
        return parse_duration(value)
    if kind == "list":
        return parse_list(value)
    if kind == "env":
        return parse_env(value)
    if kind == "confirm":
        if isinstance(value, bool):
            return value
        text = str(value)
        low = text.strip().lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if kind == "granularity":
        if str(value) not in ("auto", "block", "command"):
            raise ValueError("must be auto, block or command")
        return str(value)
    raise ValueError(f"unknown type {kind}")


# did-you-mean costs ~60 us a name: a damaged annotation of 200,000 unknown names took 25 s
_HINTS = 20


def coerce_attrs(
    raw: Mapping[str, Any] | list[tuple[str, Any]], path: str, line: int
) -> tuple[dict[str, Any], list[Problem]]:
    """Canonical, typed attributes from raw ``key -> value`` pairs (value None: a bare flag).

    ``safe``/``danger`` become ``danger``, ``doc`` becomes ``kind="doc"``, unknown keys go to
    ``extra`` with a did-you-mean warning; a bad value is an error problem, never an exception.
    """
    attrs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    problems: list[Problem] = []
    items = raw.items() if isinstance(raw, Mapping) else raw
    for raw_key, value in items:
        key = normalize_key(str(raw_key))
        if key in IGNORED:
            continue
        kind = ATTRIBUTES.get(key)
        if kind is None:
            if str(raw_key) not in extra:  # one warning per name, hints for the first few
                hint = (did_you_mean(key, ATTRIBUTES) or did_you_mean(str(raw_key), ATTRIBUTES)
                        if len(extra) < _HINTS else "")
                problems.append(_problem("warning", path, line, "RB101",
                                         f'unknown attribute "{raw_key}"{hint}'))
            extra[str(raw_key)] = value
            continue
        try:
            coerced = _coerce_one(kind, value)
        except ValueError as exc:
            shown = "(no value)" if value is None else repr(value)
            problems.append(_problem("error", path, line, "RB102",
                                     f"bad value for {key}: {shown}: {exc}"))
            continue
        _store(attrs, key, coerced)
    if extra:
        attrs["extra"] = extra
    return attrs, problems


def _store(attrs: dict[str, Any], key: str, value: Any) -> None:
    if key == "safe":
        attrs["danger"] = not value
    elif key == "doc":
        if value:
            attrs["kind"] = "doc"
    elif key == "tags" and "tags" in attrs:
        attrs["tags"] = attrs["tags"] + tuple(t for t in value if t not in attrs["tags"])
    else:
        attrs[key] = value


def _unquote(val: str) -> str:
    if len(val) >= 2 and val[0] == val[-1] == '"':
        # Only \" and \\ are escapes: regexes such as extract="v(\d+)" keep their backslashes.
        return re.sub(r'\\(["\\])', r"\1", val[1:-1])
    if len(val) >= 2 and val[0] == val[-1] == "'":
        return val[1:-1]
    return val


def _pandoc_pairs(body: str) -> tuple[list[tuple[str, Any]], str | None, str | None]:
    """``#id .tag k=v flag`` -> (pairs, first class, syntax error or None)."""
    pairs: list[tuple[str, Any]] = []
    first_class: str | None = None
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if not m or m.end() == pos:
            return pairs, first_class, f"cannot read {body[pos:pos + 20]!r}"
        pos = m.end()
        if m.group("id"):
            pairs.append(("id", m.group("id")))
        elif m.group("cls"):
            if first_class is None:
                first_class = m.group("cls")
            pairs.append(("tags", (m.group("cls"),)))
        elif m.group("key"):
            pairs.append((m.group("key"), _unquote(m.group("val"))))
        else:
            pairs.append((m.group("flag"), None))
    return pairs, first_class, None


def _json_pairs(body: str) -> tuple[list[tuple[str, Any]], str | None]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return [], f"bad JSON attributes: {exc}"
    if not isinstance(data, dict):
        return [], "JSON attributes must be an object"
    # Runme's own "id" is a generated ULID; its "name" is the human id
    if "name" in data and "id" in data:
        data = {k: v for k, v in data.items() if k != "id"}
    return list(data.items()), None


def _attribute_pairs(rest: str) -> tuple[list[tuple[str, Any]], str | None, str | None]:
    """Attributes after the language: ``{...}`` (pandoc or JSON) or bare ``k=v`` words."""
    rest = rest.strip()
    if not rest:
        return [], None, None
    if rest.startswith("{"):
        if not rest.endswith("}"):
            return [], None, "attributes start with { but do not end with }"
        inner = rest[1:-1].strip()
        if inner.startswith('"') or inner == "":
            pairs, err = _json_pairs(rest)
            return pairs, None, err
        return _pandoc_pairs(inner)
    return _pandoc_pairs(rest)


def parse_info(info: str, path: str, line: int) -> tuple[str, dict[str, Any], list[Problem]]:
    """Language and typed attributes of a fence info string, plus what went wrong."""
    info = info.strip()
    if _BARE_LANG.fullmatch(info):  # the common case: just a language
        return info.lower(), {}, []
    lang = ""
    rest = info
    if info and not info.startswith("{"):
        m = re.match(r"([^\s{]+)\s*(.*)$", info, re.S)
        if m:
            lang, rest = m.group(1), m.group(2)
    pairs, first_class, error = _attribute_pairs(rest)
    problems: list[Problem] = []
    if error:
        problems.append(_problem("error", path, line, "RB103", f"annotation syntax: {error}"))
    if not lang and first_class:
        # pandoc ```{.bash #id}: the first class is the language, not a tag
        lang = first_class
        pairs = [p for p in pairs if p != ("tags", (first_class,))]
    attrs, more = coerce_attrs(pairs, path, line)
    return lang.lower(), attrs, problems + more


def parse_comment(
    text: str, path: str = "<string>", line: int = 1
) -> tuple[dict[str, Any], list[Problem]] | None:
    """Attributes of ``<!-- runbook: #id confirm -->``; None when the comment is not ours."""
    m = _COMMENT.match(text)
    if not m:
        return None
    pairs, _first, error = _attribute_pairs(m.group("body").strip())
    problems: list[Problem] = []
    if error:
        problems.append(_problem("error", path, line, "RB103", f"annotation syntax: {error}"))
    attrs, more = coerce_attrs(pairs, path, line)
    return attrs, problems + more
