"""Jinja2 templating (the only jinja2 importer): rendering, analysis, placeholders."""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes

from .model import RunbookError
from .safety import iter_placeholders


class TemplateError(RunbookError):
    """A template cannot render: undefined variable, syntax error, placeholder without value."""

    exit_code = 2


def shell_quote(value: Any) -> str:
    """The ``q`` filter: one shell word, whatever the value holds."""
    return shlex.quote(value if isinstance(value, str) else str(value))


ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                         autoescape=False)
ENV.filters["q"] = shell_quote

_MARKERS = ("{{", "{%", "{#")
_CACHE_LIMIT = 100_000
_compiled: dict[str, jinja2.Template] = {}
_compiled_lenient: dict[str, jinja2.Template] = {}
_expressions: dict[str, Any] = {}
_analysed: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

# The common case, ``{{ name }}``, ``{{ a.b['c'] | q }}``, is handled without jinja: compiling
# thousands of distinct templates would dominate plan time.
_ACCESS = r"(?:\.[A-Za-z_]\w*|\[\s*'[^'\]]*'\s*\]|\[\s*\"[^\"\]]*\"\s*\])"
_SIMPLE_RE = re.compile(rf"\{{\{{\s*([A-Za-z_]\w*)((?:{_ACCESS})*)\s*((?:\|\s*q\s*)*)\}}\}}")
_ACCESS_RE = re.compile(r"\.([A-Za-z_]\w*)|\[\s*['\"]([^'\"\]]*)['\"]\s*\]")


def _has_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


# Go templates in real runbooks (`docker ps --format '{{.Names}}'`, `{{json .State}}`,
# `{{range .Mounts}}...{{end}}`) are not ours: jinja never starts an expression with `.`, so
# such blocks are passed through literally instead of failing as syntax errors.
_GO_TEMPLATE_RE = re.compile(
    r"\{\{-?\s*(?:(?:[a-z]+\s+)*\.[A-Za-z_.][^{}]*|end|else)\s*-?\}\}")


def _go_safe(text: str) -> str:
    if "{{" not in text or not _GO_TEMPLATE_RE.search(text):
        return text
    return _GO_TEMPLATE_RE.sub(lambda m: "{% raw %}" + m.group(0) + "{% endraw %}", text)


def _simple(text: str) -> list[re.Match[str]] | None:
    """The matches when every template construct in ``text`` is a simple lookup, else None."""
    if "{%" in text or "{#" in text:
        return None
    matches = list(_SIMPLE_RE.finditer(text))
    return matches if len(matches) == text.count("{{") else None


def _path(match: re.Match[str]) -> list[str]:
    return [match.group(1), *(a or b for a, b in _ACCESS_RE.findall(match.group(2)))]


_MISSING = object()


def _lookup(context: Mapping[str, Any], path: list[str]) -> Any:
    """Resolve ``a.b.c`` the way jinja does (attribute first, then item), or _MISSING."""
    value: Any = context.get(path[0], _MISSING)
    for key in path[1:]:
        if value is _MISSING:
            return _MISSING
        if not key.startswith("_") and hasattr(value, key) and not isinstance(value, Mapping):
            value = getattr(value, key)
            continue
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _render_simple(text: str, matches: list[re.Match[str]], context: Mapping[str, Any],
                   lenient: bool) -> str:
    out: list[str] = []
    pos = 0
    for match in matches:
        out.append(text[pos:match.start()])
        path = _path(match)
        value = _lookup(context, path)
        if value is _MISSING:
            if not lenient:
                raise TemplateError(f"undefined variable '{'.'.join(path)}'")
            out.append("{{ " + ".".join(path) + " }}")
        else:
            text_value = str(value)
            for _ in range(match.group(3).count("|")):
                text_value = shell_quote(text_value)
            out.append(text_value)
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def _compile(text: str, env: jinja2.Environment, cache: dict[str, jinja2.Template]
             ) -> jinja2.Template:
    template = cache.get(text)
    if template is None:
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        try:
            template = env.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", line=exc.lineno) from None
        cache[text] = template
    return template


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    match = re.match(r"'([^']+)' is undefined", str(exc))
    return f"undefined variable '{match.group(1)}'" if match else f"undefined value: {exc}"


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render strictly: an undefined variable raises TemplateError, never renders empty."""
    if not _has_template(text):
        return text
    text = _go_safe(text)
    matches = _simple(text)
    if matches is not None:
        return _render_simple(text, matches, context, lenient=False)
    try:
        return _compile(text, ENV, _compiled).render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined_message(exc)) from None
    except TemplateError:
        raise
    except Exception as exc:  # a filter or test blew up on a value: still the user's template
        raise TemplateError(f"template error: {exc}") from None


# ---------------------------------------------------------------- lenient (dry-run) rendering


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
        if name[:2] == "__":
            raise AttributeError(name)
        return _Visible(name=f"{self._rb_name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return _Visible(name=f"{self._rb_name}.{key}")


class _Named(dict):  # type: ignore[type-arg]
    """A context mapping that knows its dotted path, so a missing key renders in full."""

    _rb_path = ""


def _named(value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        return value
    named = _Named({k: _named(v, f"{path}.{k}") for k, v in value.items()})
    named._rb_path = path
    return named


def _pass_visible(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        return value if isinstance(value, _Visible) else func(value, *args, **kwargs)

    return wrapper


LENIENT_ENV = jinja2.Environment(undefined=_Visible, keep_trailing_newline=True, autoescape=False)
# Filters pass an unresolved value through untouched: ``{{ x | q }}`` shows ``{{ x }}``.
for _name, _func in {**ENV.filters}.items():
    if _name not in ("default", "d") and not getattr(_func, "jinja_pass_arg", None):
        LENIENT_ENV.filters[_name] = _pass_visible(_func)


def render_lenient(text: str, context: Mapping[str, Any]) -> str:
    """Render for a dry run: unknown variables show as ``{{ name }}``; a broken template as is."""
    if not _has_template(text):
        return text
    text = _go_safe(text)
    matches = _simple(text)
    if matches is not None:
        return _render_simple(text, matches, context, lenient=True)
    try:
        template = _compile(text, LENIENT_ENV, _compiled_lenient)
        return template.render({k: _named(v, k) for k, v in context.items()})
    except Exception:  # the plan must render anyway; lint reports the broken template
        return text


# ---------------------------------------------------------------- analysis


def _analyse(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(undeclared top-level names, ids referenced as ``steps.X``), cached per text."""
    cached = _analysed.get(text)
    if cached is not None:
        return cached
    source, text = text, _go_safe(text)
    matches = _simple(text) if _has_template(text) else []
    if matches is not None:
        names = frozenset(m.group(1) for m in matches)
        steps = frozenset(p[1] for p in map(_path, matches) if p[0] == "steps" and len(p) > 1)
    else:
        try:
            tree = ENV.parse(text)
        except jinja2.TemplateSyntaxError:
            tree = None
        names = frozenset(meta.find_undeclared_variables(tree)) if tree else frozenset()
        steps = frozenset(_steps_in(tree)) if tree else frozenset()
    if len(_analysed) > _CACHE_LIMIT:
        _analysed.clear()
    _analysed[source] = (names, steps)
    return names, steps


def _steps_in(tree: nodes.Template) -> set[str]:
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "steps":
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.add(node.arg.value)
    return found


def variables_used(text: str) -> set[str]:
    """Top-level names a template reads (``{{ a.b }}`` → ``a``); loop variables excluded."""
    return set(_analyse(text)[0])


def steps_referenced(text: str) -> set[str]:
    """Step ids used as ``steps.X`` or ``steps['X']``."""
    return set(_analyse(text)[1])


def syntax_error(text: str) -> str | None:
    """The jinja syntax error in ``text``, or None."""
    if not _has_template(text) or _simple(text) is not None:
        return None
    try:
        ENV.parse(_go_safe(text))
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    return None


def expression_template(expr: str) -> str:
    """A ``when`` expression as a template, for analysis (``{{ x }}`` accepted too)."""
    stripped = expr.strip()
    return stripped if stripped.startswith("{{") else "{{ " + stripped + " }}"


_FALSE_WORDS = frozenset({"", "false", "no", "0", "off", "none", "null"})


def evaluate(expr: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` expression; an undefined variable raises TemplateError."""
    source = expr.strip()
    if source.startswith("{{") and source.endswith("}}"):
        source = source[2:-2].strip()
    compiled = _expressions.get(source)
    if compiled is None:
        try:
            compiled = ENV.compile_expression(source, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"bad expression {expr!r}: {exc.message}") from None
        _expressions[source] = compiled
    try:
        value = compiled(**context)
        if isinstance(value, str):  # "{{ flag }}" with flag="false" means false
            return value.strip().lower() not in _FALSE_WORDS
        return bool(value)
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined_message(exc)) from None
    except Exception as exc:
        raise TemplateError(f"cannot evaluate {expr!r}: {exc}") from None


# ---------------------------------------------------------------- placeholders


def _quote_for(value: str, context: str) -> str:
    """Quote a placeholder value for where it sits: outside quotes, in '...', in "...", heredoc."""
    if context == "squote":
        return value.replace("'", "'\\''")
    if context == "dquote":
        return re.sub(r'([\\$`"])', r"\\\1", value)
    if context.startswith("heredoc"):
        return value
    return shlex.quote(value)


def substitute_placeholders(code: str, values: Mapping[str, str], lenient: bool = False) -> str:
    """Replace ``<name>`` placeholders by their shell-quoted values (missing: keep or raise)."""
    out: list[str] = []
    pos = 0
    for match, context in iter_placeholders(code):
        name = match.group(1)
        if name not in values:
            if lenient:
                continue
            lowered = {key.lower(): key for key in values}
            hint = difflib.get_close_matches(name.lower(), list(lowered), n=1)
            extra = f" (did you mean '{lowered[hint[0]]}'?)" if hint else ""
            raise TemplateError(f"placeholder <{name}> has no value: pass --var {name}=...{extra}")
        out.append(code[pos:match.start()])
        out.append(_quote_for(str(values[name]), context))
        pos = match.end()
    out.append(code[pos:])
    return "".join(out)


# ---------------------------------------------------------------- reports


def report_environment(templates_dir: str,
                       filters: Mapping[str, Callable[..., Any]] = {}) -> jinja2.Environment:  # noqa: B006
    """The jinja environment for transcript reports: autoescape for HTML, the report's filters
    (they live with the reports, transcript/filters.py; this module only owns jinja2)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "html.j2"],
                                            default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(q=shell_quote, **filters)
    return env
