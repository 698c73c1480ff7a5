"""The sandboxed jinja environments of runbook templates, strict and lenient (for dry runs);
imported when a text first needs jinja (template._envs), so a run without templates never
imports jinja2."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import TemplateSyntaxError, Undefined, meta

from .qfilter import q
from .sandbox import RunbookSandbox, guard_filter

__all__ = ["ENV", "LENIENT_ENV", "TemplateSyntaxError", "Undefined", "meta"]

ENV = RunbookSandbox(undefined=jinja2.StrictUndefined)
ENV.filters["q"] = guard_filter("q", q)


class _Visible(jinja2.Undefined):
    """Renders as ``{{ name }}`` so a value known only at run time stays visibly unresolved."""

    __slots__ = ()

    @property
    def _rb_name(self) -> str:
        base = getattr(self._undefined_obj, "_rb_path", None)
        name = self._undefined_name or "?"
        return f"{base}.{name}" if base else name

    def __str__(self) -> str:
        return "{{ " + self._rb_name + " }}"

    def __getattr__(self, name: str) -> Any:
        if name[:1] == "_":
            raise AttributeError(name)
        return _Visible(name=f"{self._rb_name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return _Visible(name=f"{self._rb_name}.{key}")


def _pass_visible(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        return value if isinstance(value, _Visible) else func(value, *args, **kwargs)

    return wrapper


LENIENT_ENV = RunbookSandbox(undefined=_Visible)
# Filters pass an unresolved value through untouched: ``{{ x | q }}`` shows ``{{ x }}``.
for _name, _func in {**ENV.filters}.items():
    if _name not in ("default", "d") and not getattr(_func, "jinja_pass_arg", None):
        LENIENT_ENV.filters[_name] = _pass_visible(_func)


LENIENT_ENV = RunbookSandbox(undefined=_Visible)
# Filters pass an unresolved value through untouched: ``{{ x | q }}`` shows ``{{ x }}``.
for _name, _func in {**ENV.filters}.items():
    if _name not in ("default", "d") and not getattr(_func, "jinja_pass_arg", None):
        LENIENT_ENV.filters[_name] = _pass_visible(_func)
