"""Frozen dataclasses that read and write themselves as JSON objects, field by field.

Reading is lenient: a missing field takes its default, a value of the wrong type is coerced or
defaulted, so data written by an earlier version keeps reading. Writing uses a converter made once
per field from its declared type."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, Union

R = TypeVar("R", bound="Record")


def jsonable(value: Any) -> Any:
    """``value`` as JSON keeps it (tuples become lists, other objects their str), so a value
    read back from the transcript equals the one recorded."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def _coerce(kind: Any, raw: Any, default: Any) -> Any:
    """``raw`` (from JSON) as the declared ``kind``; ``default`` when it cannot be one."""
    if kind is Any:
        return raw
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        if raw is None:
            return None
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        return _coerce(options[0], raw, default) if len(options) == 1 else raw
    if kind is str:
        return default if raw is None else str(raw)
    if kind is bool:
        return bool(raw)
    if kind in (int, float):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return default
        return kind(raw)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        if not isinstance(raw, (list, tuple)):
            return default
        items = (_coerce(item, v, None) for v in raw)
        # an item that cannot be one (``null`` among strings) is left out, not kept as None
        return tuple(items) if _nullable(item) else tuple(v for v in items if v is not None)
    if origin is dict:
        value_kind = typing.get_args(kind)[1]
        if not isinstance(raw, Mapping):
            return default
        pairs = ((str(k), _coerce(value_kind, v, None)) for k, v in raw.items())
        return {k: v for k, v in pairs if v is not None or not _is_record(value_kind)}
    if _is_record(kind):
        return kind.from_json(raw) if isinstance(raw, Mapping) else default
    return raw


def _nullable(kind: Any) -> bool:
    return kind is Any or (typing.get_origin(kind) in (Union, types.UnionType)
                           and type(None) in typing.get_args(kind))


def _is_record(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Record)


def _writer(kind: Any) -> Callable[[Any], Any] | None:
    """How a field of this declared kind becomes JSON (None: it already is)."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        inner = _writer(options[0]) if len(options) == 1 else None
        return None if inner is None else (lambda v: None if v is None else inner(v))
    if origin is tuple:
        item = _writer(typing.get_args(kind)[0])
        return list if item is None else (lambda v: [item(x) for x in v])
    if origin is dict:
        value = _writer(typing.get_args(kind)[1])
        return None if value is None else (lambda v: {k: value(x) for k, x in v.items()})
    if _is_record(kind):
        return lambda v: v.to_json()
    return None  # str, numbers, bool, and Any (made JSON-ready when the event is made)


class Record:
    """A frozen dataclass that reads and writes itself as a JSON object, field by field."""

    #: fields left out of the JSON while they are None (their reader default is None too)
    omit_none: ClassVar[frozenset[str]] = frozenset()
    #: (name, type, default, writer) per field, made once per class
    _fields: ClassVar[tuple[tuple[str, Any, Any, Callable[[Any], Any] | None], ...]]

    @classmethod
    def _field_table(cls) -> tuple[tuple[str, Any, Any, Callable[[Any], Any] | None], ...]:
        table = cls.__dict__.get("_fields")
        if table is None:
            hints = typing.get_type_hints(cls)
            table = tuple((f.name, hints[f.name], _default(f), _writer(hints[f.name]))
                          for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                          if f.name != "ts")
            cls._fields = table
        return table

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        omit = self.omit_none
        for name, _, _, write in self._field_table():
            value = getattr(self, name)
            if value is None:
                if name in omit:
                    continue
                out[name] = None
            else:
                out[name] = value if write is None else write(value)
        return out

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any]) -> R:
        return cls(**cls._values(data))

    @classmethod
    def _values(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _coerce(kind, data[name], default) if name in data else default
                for name, kind, default, _ in cls._field_table()}


def _default(spec: dataclasses.Field[Any]) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return None
