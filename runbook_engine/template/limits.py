"""What one template render may build and do: sizes of values, a step budget, a deadline.

A runbook is untrusted until the operator runs a step, so its templates are rendered as data
lookups with bounded work: every loop iteration, call, filter, test and output costs budget, and
any value a template builds is measured (shared references counted as often as they are reached,
which is what ``str()`` would produce) before it can grow past ``MAX_SIZE``. No jinja here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .. import lazyre

MAX_SIZE = 16 * 2**20  # characters (a container counts its items too): the runbook size cap
MAX_ITEMS = 1_000_000  # items in one list, tuple or dict a template builds or measures
MAX_INT_BITS = 2**16  # integers a template computes (10**19728 is plenty for a runbook)
MAX_STEPS = 1_000_000  # loop iterations, calls, filters, tests and outputs in one render
MAX_SECONDS = 2.0  # wall clock of one render: a backstop, MAX_STEPS normally ends first
MAX_WIDTH = 100_000  # printf/format widths and precisions


class TemplateRefused(Exception):
    """The template asked for something a runbook template may not do (too big, too long)."""


@dataclass
class _Budget:
    steps: int = MAX_STEPS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)
    sizes: dict[int, tuple[Any, int]] = field(default_factory=dict)  # id -> (keep-alive, size)


_current: ContextVar[_Budget | None] = ContextVar("runbook_template_budget", default=None)


@contextmanager
def budget() -> Iterator[None]:
    """One render's budget; nested renders share the outer one."""
    if _current.get() is not None:
        yield
        return
    token = _current.set(_Budget())
    try:
        yield
    finally:
        _current.reset(token)


def tick(cost: int = 1) -> None:
    """Spend budget; refuse once the render has done too much or taken too long."""
    spent = _current.get()
    if spent is None:
        return  # compile-time constant folding: bounded by the template's own size
    spent.steps -= cost
    if spent.steps < 0:
        raise TemplateRefused(f"template does too much work (over {MAX_STEPS:,} steps)")
    # the clock every 64 steps: each step is bounded work (sizes are capped), so this is enough
    if (cost > 1 or not spent.steps & 63) and time.monotonic() > spent.deadline:
        raise TemplateRefused(f"template takes too long to render (over {MAX_SECONDS:g} s)")


# ---------------------------------------------------------------- sizes


def size_of(value: Any) -> int:
    """What ``str(value)`` would hold, roughly: characters, plus one per container item."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if not isinstance(value, list | tuple | dict | set | frozenset):
        return 1
    spent = _current.get()
    memo = spent.sizes if spent is not None else {}
    return _container_size(value, memo, 0)


def _container_size(value: Any, memo: dict[int, tuple[Any, int]], depth: int) -> int:
    known = memo.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    if depth > 200:
        raise TemplateRefused("template value nests too deeply (over 200 levels)")
    if len(value) > MAX_ITEMS:
        raise TemplateRefused(f"template value has too many items (over {MAX_ITEMS:,})")
    items: Iterator[Any] = iter(value.items()) if isinstance(value, dict) else iter(value)
    total = 2 + len(value)
    for item in items:
        if isinstance(item, tuple) and isinstance(value, dict):
            total += _measure(item[0], memo, depth) + _measure(item[1], memo, depth)
        else:
            total += _measure(item, memo, depth)
        if total > MAX_SIZE:
            break  # already too big: no need to count the rest
    tick(1 + len(value) // 64)
    memo[id(value)] = (value, total)
    return total


def _measure(item: Any, memo: dict[int, tuple[Any, int]], depth: int) -> int:
    if isinstance(item, list | tuple | dict | set | frozenset):
        return _container_size(item, memo, depth + 1)
    return size_of(item)


def check_size(value: Any, what: str = "value") -> Any:
    """``value`` itself, once it is known to stay under MAX_SIZE."""
    if type(value) is str:  # the common case, first and cheap
        if len(value) > MAX_SIZE:
            refuse_over(len(value), what)
        return value
    if isinstance(value, int) and not isinstance(value, bool) \
            and value.bit_length() > MAX_INT_BITS:
        raise TemplateRefused(f"template number is too large (over {MAX_INT_BITS:,} bits)")
    if size_of(value) > MAX_SIZE:
        raise TemplateRefused(f"template {what} would be too large (over {MAX_SIZE:,} characters)")
    return value


def refuse_over(estimate: int, what: str) -> None:
    if estimate > MAX_SIZE:
        raise TemplateRefused(f"template {what} would be too large (over {MAX_SIZE:,} characters)")


# ---------------------------------------------------------------- estimates before the work


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def estimate_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``%`` and ``+`` whose result would be too large, before computing."""
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateRefused(f"template number is too large (over {MAX_INT_BITS:,} bits)")
        elif isinstance(right, int) or isinstance(left, int):
            count, seq = (_int(right), left) if isinstance(right, int) else (_int(left), right)
            if isinstance(seq, list | tuple) and len(seq) * count > MAX_ITEMS:
                raise TemplateRefused(f"template value has too many items (over {MAX_ITEMS:,})")
            refuse_over(size_of(seq) * max(count, 0), "repetition")
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if left.bit_length() * right > MAX_INT_BITS and abs(left) > 1:
            raise TemplateRefused(f"template number is too large (over {MAX_INT_BITS:,} bits)")
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right)
    elif operator == "+" and not (isinstance(left, int | float) or isinstance(right, int | float)):
        refuse_over(size_of(left) + size_of(right), "concatenation")


_PRINTF_RE = lazyre.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBER_RE = lazyre.compile(r"\d+")


def check_printf(fmt: str, args: Any) -> None:
    """Refuse printf-style formats whose widths would build huge strings."""
    values = args if isinstance(args, tuple) else (args,)
    for match in _PRINTF_RE.finditer(fmt):
        for part in match.groups():
            if part == "*":
                widths = [_int(v) for v in values]
                if widths and max(abs(w) for w in widths) > MAX_WIDTH:
                    raise TemplateRefused(f"template format width over {MAX_WIDTH:,}")
            elif part and int(part) > MAX_WIDTH:
                raise TemplateRefused(f"template format width over {MAX_WIDTH:,}")
    refuse_over(len(fmt) + sum(size_of(v) for v in values), "formatted string")


def _replace_estimate(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        return size_of(text)
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _join_estimate(separator: Any, items: Sequence[Any]) -> int:
    return size_of(separator) * max(len(items) - 1, 0) + sum(size_of(item) for item in items)


def _indent_estimate(text: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    prefix = len(width) if isinstance(width, str) else max(_int(width), 0)
    text = str(text) if isinstance(text, str) else ""
    return len(text) + (text.count("\n") + 2) * prefix


def _center_estimate(text: Any, width: Any = 80, *_: Any) -> int:
    return max(size_of(text), _int(width))


def _wordwrap_estimate(text: Any, width: Any = 79, *args: Any, **kwargs: Any) -> int:
    wrap = kwargs.get("wrapstring") or (args[1] if len(args) > 1 else None) or "\n"
    chars = size_of(text)
    return chars + (chars // max(_int(width), 1) + 1) * size_of(wrap)


def _pad_estimate(value: Any, count: Any = 1, *_: Any, **__: Any) -> int:
    return size_of(value) + 2 * max(_int(count), 0)


def _format_estimate(fmt: Any, *args: Any, **kwargs: Any) -> int:
    if isinstance(fmt, str):
        check_printf(fmt, tuple(args) or tuple(kwargs.values()))
    return 0


def _sum_estimate(values: Any, *args: Any, **kwargs: Any) -> int:
    start = kwargs.get("start", args[1] if len(args) > 1 else 0)
    if not isinstance(start, int | float):
        raise TemplateRefused("template 'sum' adds numbers only")
    return 0


def _words(text: str) -> list[str]:
    return text.split()


#: filters that can build much more than they read, and how big their result could be
FILTER_ESTIMATES: Mapping[str, Callable[..., int]] = {
    "center": _center_estimate,
    "indent": _indent_estimate,
    "wordwrap": _wordwrap_estimate,
    "replace": _replace_estimate,
    "format": _format_estimate,
    "batch": _pad_estimate,
    "slice": _pad_estimate,
    "sum": _sum_estimate,
}

#: str methods a template may call, and the estimate for the ones that can grow
STR_METHODS: Mapping[str, Callable[..., int] | None] = {
    **dict.fromkeys(_words(
        "lower upper strip lstrip rstrip split rsplit splitlines startswith endswith count find "
        "rfind index rindex title capitalize casefold swapcase isdigit isalpha isalnum isspace "
        "islower isupper isnumeric isdecimal isidentifier istitle isascii partition rpartition "
        "removeprefix removesuffix")),
    "replace": _replace_estimate,
    "join": None,  # estimated on the materialised items, see join_items
}


def join_items(separator: Any, values: Any) -> list[Any]:
    """The items a join will glue together, counted, and refused if the result is too big."""
    items = []
    for item in values:
        tick()
        items.append(item)
    refuse_over(_join_estimate(separator, items), "joined string")
    return items
