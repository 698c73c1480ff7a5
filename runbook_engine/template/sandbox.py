"""The runbook template sandbox: jinja's immutable sandbox narrowed to reading data.

A template may look values up, call a short list of pure str/dict/list methods, and use the
filters and tests; it may not reach Python internals (no ``_`` attributes, no other callables,
no ``str.format``), define macros, include or import anything, or build values and do work
beyond the limits in ``limits.py``.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, safe_range
from jinja2.visitor import NodeTransformer

from .limits import (
    FILTER_ESTIMATES,
    STR_METHODS,
    check_size,
    estimate_binop,
    join_items,
    refuse_over,
    size_of,
    tick,
)

#: template statements a runbook has no use for, each a way to run away or reach outside
_FORBIDDEN: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
}

#: the only methods a template may call, by the type of the object they belong to
_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(STR_METHODS),
    Mapping: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    LoopContext: frozenset({"cycle", "changed"}),
}

_NEVER = (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType)


class Forbidden(TemplateSyntaxError):
    """A construct runbook templates may not contain, found when the template is compiled."""


def _method_allowed(obj: Any, name: str) -> bool:
    return any(isinstance(obj, kind) and name in allowed for kind, allowed in _METHODS.items())


def _describe(obj: Any) -> str:
    return type(obj).__name__


class RunbookSandbox(ImmutableSandboxedEnvironment):
    """Templates read variables and call our filters; nothing else (see module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(keep_trailing_newline=True, autoescape=False, finalize=_finalize,
                         **options)
        # no lipsum/cycler/joiner/namespace/dict: each is a known escape route or a way to
        # accumulate state across loop iterations
        self.globals = {"range": safe_range}
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items()}
        self.filters.update({"__rb_iter": _counted, "__rb_concat": _concat,
                             "__rb_value": _checked})
        self.tests = {name: guard_test(func) for name, func in self.tests.items()}

    # -- what the compiled template may contain -----------------------------------------------

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        source = _Guard(self).visit(source)
        return super()._generate(source, name, filename, defer_init)

    # -- what it may touch and call -----------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value) or isinstance(value, _NEVER):
            return False
        # an Undefined is callable only to fail with its own message
        return not callable(value) or isinstance(value, Undefined) or _method_allowed(obj, attr)

    def is_safe_callable(self, obj: Any) -> bool:
        if obj is safe_range or isinstance(obj, Undefined):
            return True
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        return isinstance(obj, types.BuiltinMethodType | types.MethodType) and \
            owner is not None and _method_allowed(owner, name)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is not on the method list: nothing to wrap

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        if isinstance(obj, Undefined):  # `cycler.__init__`: say what is really wrong
            obj._fail_with_undefined_error()
        raise SecurityError(f"'{attribute}' of a {_describe(obj)} is not available in runbook "
                            "templates")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        estimate_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any,  # noqa: N805
             **kwargs: Any) -> Any:
        tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"calling {getattr(__obj, '__name__', _describe(__obj))!r} is "
                                "not allowed in runbook templates")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = __obj.__name__
            if name == "join" and args:
                args = (join_items(owner, args[0]), *args[1:])
            estimate = STR_METHODS.get(name)
            if estimate is not None:
                refuse_over(estimate(owner, *args, **kwargs), f"'{name}' result")
        return check_size(__context.call(__obj, *args, **kwargs))


def _finalize(value: Any) -> Any:
    tick()
    return check_size(value, "output")


# ---------------------------------------------------------------- guarded filters and tests


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its work counted and its result (estimated first when it can grow) bounded."""
    estimate = FILTER_ESTIMATES.get(name)
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        if name == "join" and len(args) > skip and "attribute" not in kwargs:
            separator = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
            args = (*args[:skip], join_items(separator, args[skip]), *args[skip + 1:])
        if estimate is not None:
            refuse_over(estimate(*args[skip:], **kwargs), f"'{name}' result")
        return check_size(func(*args, **kwargs), f"'{name}' result")

    return guarded


def guard_test(func: Any) -> Callable[..., Any]:
    """``func`` with its call counted."""
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        return func(*args, **kwargs)

    return guarded


def _counted(values: Any) -> Iterator[Any]:
    for value in values:
        tick()
        yield value


def _concat(parts: tuple[Any, ...]) -> str:
    refuse_over(sum(size_of(part) for part in parts), "concatenation")
    return "".join(str(part) for part in parts)


def _checked(value: Any) -> Any:
    return check_size(value)


# ---------------------------------------------------------------- the compile-time guard


def _wrap(node: nodes.Node, name: str, env: RunbookSandbox) -> nodes.Filter:
    wrapped = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
    wrapped.set_environment(env)
    return wrapped


class _Guard(NodeTransformer):
    """Refuse what runbook templates may not contain; route loops and building through guards."""

    def __init__(self, env: RunbookSandbox) -> None:
        self.env = env

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        kind = _FORBIDDEN.get(type(node))
        if kind is not None:
            raise Forbidden(f"{kind} is not allowed in runbook templates",
                                      node.lineno)
        return super().visit(node, *args, **kwargs)

    def visit_Getattr(self, node: nodes.Getattr) -> nodes.Getattr:
        return self._public(node, node.attr)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Getitem:
        key = node.arg.value if isinstance(node.arg, nodes.Const) else None
        return self._public(node, key)

    def _public(self, node: Any, name: Any) -> Any:
        # `x.__class__` and friends are the start of every known escape: refuse them when the
        # template is compiled (so lint and plan say so) as well as when they are reached
        if isinstance(name, str) and name.startswith("__"):
            raise Forbidden(f"'{name}' is not available in runbook templates",
                                      node.lineno)
        self.generic_visit(node)
        return node

    def visit_Filter(self, node: nodes.Filter) -> nodes.Filter:
        return self._known(node, self.env.filters, "filter")

    def visit_Test(self, node: nodes.Test) -> nodes.Test:
        return self._known(node, self.env.tests, "test")

    def _known(self, node: Any, table: dict[str, Any], kind: str) -> Any:
        # jinja defers unknown names inside {% if %} to run time; a runbook learns at lint time
        if node.name not in table:
            raise TemplateSyntaxError(f"No {kind} named '{node.name}'", node.lineno)
        self.generic_visit(node)
        return node

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        if node.recursive:
            raise Forbidden("recursive loops are not allowed in runbook templates",
                                      node.lineno)
        node.iter = _wrap(node.iter, "__rb_iter", self.env)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return _wrap(parts, "__rb_concat", self.env)

    def _built(self, node: nodes.Expr) -> nodes.Expr:
        self.generic_visit(node)
        if all(isinstance(child, nodes.Const) for child in node.iter_child_nodes()):
            return node  # a literal: as large as the template text, no larger
        return _wrap(node, "__rb_value", self.env)

    def visit_List(self, node: nodes.List) -> nodes.Expr:
        return self._built(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Expr:
        return self._built(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Expr:
        return self._built(node) if node.ctx == "load" else node
