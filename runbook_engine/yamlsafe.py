"""YAML from runbooks and inventories, bounded: depth, expanded size (not alias count), JSON types.

A runbook is untrusted input, so its YAML is checked before it is built: one pass over the
parser's events (libyaml when present, linear whatever the nesting) refuses documents nested
deeper than ``MAX_DEPTH`` and documents whose aliases would expand past ``expansion_limit`` (a
"billion laughs" is refused by what it would become, however few aliases it uses). What is built
holds JSON types only (dates as ISO text, binary as text, sets as lists), so every output format
can write it.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import yaml

MAX_DEPTH = 100


def expansion_limit(text: str) -> int:
    """Characters (plus one per node) a document may expand to: its own size and some room."""
    return 1_000_000 + 4 * len(text)


class YamlRefused(yaml.MarkedYAMLError):
    """A document we will not build (too deep, expands too much, a value that cannot be built)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)

    def __str__(self) -> str:
        return str(self.problem)


def _event_loader() -> type[Any]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check(text: str) -> None:
    """Refuse a document too deep or expanding too much, before anything is built."""
    try:
        _check_events(text)
    except yaml.MarkedYAMLError as exc:
        # newer libyaml bundles (PyYAML 6.0.4) have their own depth limit and may meet it while
        # scanning ahead of the events: the same refusal, in our words
        if "nesting depth" not in str(exc.problem):
            raise
        raise YamlRefused(f"nested deeper than {MAX_DEPTH} levels", exc.problem_mark) from None


def _check_events(text: str) -> None:
    limit = expansion_limit(text)
    anchors: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = []  # (anchor, size so far) of each open collection
    total = 0
    for event in yaml.parse(text, Loader=_event_loader()):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise YamlRefused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            stack.append((event.anchor, 1))
            size = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
            if anchor:
                anchors[anchor] = size
            size = 0 if not stack else size  # added to the parent below
            if stack:
                stack[-1] = (stack[-1][0], stack[-1][1] + size)
            continue
        elif isinstance(event, yaml.ScalarEvent):
            size = len(event.value) + 1
            if event.anchor:
                anchors[event.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                raise YamlRefused("an alias inside its own anchor (a value containing itself)",
                                  event.start_mark)
            size = anchors.get(event.anchor or "", 1)
        else:
            continue
        total += size
        if total > limit:
            raise YamlRefused(f"expands to more than {limit:,} characters (aliases of aliases)",
                              event.start_mark)
        if stack and not isinstance(event, yaml.CollectionStartEvent):
            stack[-1] = (stack[-1][0], stack[-1][1] + size)


def load(text: str, loader: type[Any] = yaml.SafeLoader) -> Any:
    """``text`` checked, then built by ``loader`` (a SafeLoader subclass), as JSON types.

    Raises ``yaml.YAMLError`` (with ``problem`` and, when known, ``problem_mark``) for anything
    it refuses or cannot build."""
    check(text)
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError,
            AttributeError) as exc:  # a tagged value SafeConstructor cannot build
        raise YamlRefused(f"a value cannot be read: {type(exc).__name__}: {exc}") from None
    return plain(data)


def plain(value: Any) -> Any:
    """``value`` with JSON types only; shared (aliased) parts stay shared."""
    return _Plain().convert(value)


class _Plain:
    def __init__(self) -> None:
        self.done: dict[int, Any] = {}

    def convert(self, value: Any) -> Any:
        if isinstance(value, str | bool | int | float) or value is None:
            return value
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        if isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
            return text if text.isprintable() else base64.b64encode(value).decode()
        known = self.done.get(id(value))
        if known is not None:
            return known
        result: Any
        if isinstance(value, dict):
            result = {}
            self.done[id(value)] = result
            for key, item in value.items():
                result[self._key(key)] = self.convert(item)
        elif isinstance(value, list | tuple | set | frozenset):
            result = []
            self.done[id(value)] = result
            items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
            result.extend(self.convert(item) for item in items)
        else:
            return str(value)
        return result

    def _key(self, key: Any) -> Any:
        if isinstance(key, str | bool | int | float) or key is None:
            return key
        converted = self.convert(key)
        return converted if isinstance(converted, str) else str(converted)
