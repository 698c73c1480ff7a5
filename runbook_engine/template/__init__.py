"""Jinja2 templating (the only jinja2 importer): sandboxed rendering, analysis, placeholders.

Runbook text is untrusted until the operator runs a step, so every template renders in
``sandbox.RunbookSandbox``: it reads variables and calls our filters, nothing else, with bounded
work (``limits.py``). Every failure is a ``TemplateError``: one line, with the template's line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from types import CodeType
from typing import TYPE_CHECKING, Any

from .. import lazyre
from ..safety import iter_placeholders
from .errors import TemplateError, as_template_error
from .limits import MAX_SIZE, TemplateRefused, budget, check_size
from .qfilter import MARKER_RE, q, quoted, shell_quote
from .quoting import QuotingError, Substitution, substitute
from .shellctx import language_role

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes

__all__ = ["ENV", "GLOBALS", "TemplateError", "evaluate", "expression_template", "problem",
           "render", "render_lenient", "report_environment", "shell_quote", "steps_referenced",
           "substitute_placeholders", "syntax_error", "variables_used"]


def _envs() -> Any:
    """The sandboxed environments (environments.py): jinja2 is imported when a text first needs
    it (a runbook without templates never does: ~20 ms of its start)."""
    from . import environments

    return environments


def __getattr__(name: str) -> Any:  # ``template.ENV``, ``template.LENIENT_ENV``, built on demand
    if name in ("ENV", "LENIENT_ENV"):
        return getattr(_envs(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")



#: the names a template can use without a variable (the sandbox keeps only ``range``; a test
#: holds this to the environment's globals, built only when a text needs jinja)
GLOBALS = frozenset({"range"})

_MARKERS = ("{{", "{%", "{#")
_CACHE_LIMIT = 100_000
_codes: dict[str, CodeType] = {}
_compiled: dict[str, jinja2.Template] = {}
_compiled_lenient: dict[str, jinja2.Template] = {}
_expressions: dict[str, Any] = {}
_analysed: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

# The common case, ``{{ name }}``, ``{{ a.b['c'] | q }}``, is handled without jinja: compiling
# thousands of distinct templates would dominate plan time. (``._x`` goes through the sandbox.)
_ACCESS = r"(?:\.[A-Za-z]\w*|\[\s*'[^'\]\\]*'\s*\]|\[\s*\"[^\"\]\\]*\"\s*\])"
_SIMPLE_RE = lazyre.compile(rf"\{{\{{\s*([A-Za-z_]\w*)((?:{_ACCESS})*)\s*((?:\|\s*q\s*)*)\}}\}}")
_ACCESS_RE = lazyre.compile(r"\.([A-Za-z_]\w*)|\[\s*['\"]([^'\"\]]*)['\"]\s*\]")


def _has_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


# Go templates in real runbooks (`docker ps --format '{{.Names}}'`, `{{json .State}}`,
# `{{range .Mounts}}...{{end}}`) are not ours: jinja never starts an expression with `.`, so
# such blocks are passed through literally instead of failing as syntax errors.
_GO_TEMPLATE_RE = lazyre.compile(
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
    """Resolve ``a.b.c``: a mapping by key, anything else through the sandbox; or _MISSING."""
    value: Any = context.get(path[0], _MISSING)
    for key in path[1:]:
        if value is _MISSING:
            return _MISSING
        if isinstance(value, Mapping):
            value = value.get(key, _MISSING)
            continue
        envs = _envs()
        value = envs.ENV.getattr(value, key)  # attribute, then item; unsafe names raise
        if isinstance(value, envs.Undefined):
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
                raise TemplateError(f"undefined variable '{'.'.join(path)}'",
                                    line=text.count("\n", 0, match.start()) + 1)
            out.append("{{ " + ".".join(path) + " }}")
        else:
            text_value = str(check_size(value, "output"))
            for _ in range(match.group(3).count("|")):
                text_value = q(text_value)
            out.append(text_value)
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def _code(text: str) -> CodeType:
    """The template compiled once in the sandbox, shared by the strict and lenient renders."""
    code = _codes.get(text)
    if code is None:
        if len(_codes) > _CACHE_LIMIT:
            _codes.clear()
        env = _envs().ENV
        try:
            code = env.compile(text)
        except Exception as exc:  # noqa: BLE001 - every compile failure is the template's
            raise as_template_error(exc, env) from None
        _codes[text] = code
    return code


def _compile(text: str, env: jinja2.Environment, cache: dict[str, jinja2.Template]
             ) -> jinja2.Template:
    template = cache.get(text)
    if template is None:
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        template = env.template_class.from_code(env, _code(text), env.make_globals(None))
        cache[text] = template
    return template


def _generate(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render piece by piece so the output is refused as soon as it grows past MAX_SIZE."""
    pieces: list[str] = []
    total = 0
    for piece in template.generate(context):
        total += len(piece)
        if total > MAX_SIZE:
            raise TemplateRefused(f"template output would be too large (over {MAX_SIZE:,} "
                                  "characters)")
        pieces.append(piece)
    return "".join(pieces)


def render(text: str, context: Mapping[str, Any], interpreter: str | None = None,
           on_env_read: Callable[[str, Any], None] | None = None) -> str:
    """Render strictly in the sandbox: any failure (an undefined variable too) is TemplateError.

    ``interpreter`` is what reads the code (None: our shell), for where ``q`` values land;
    ``on_env_read(name, value)`` hears of every ``env.NAME`` the template reads, so the caller
    can mask the secret-looking ones before the result is shown anywhere."""
    if on_env_read is not None and isinstance(context.get("env"), Mapping):
        context = {**context, "env": EnvReads(context["env"], on_env_read)}
    try:
        return _render(text, context, lenient=False, interpreter=interpreter)
    except QuotingError as exc:
        raise TemplateError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one line for whatever the template did
        raise as_template_error(exc, _envs().ENV) from None


class EnvReads(Mapping[str, Any]):
    """The environment as a template sees it: each value read is reported first."""

    def __init__(self, values: Mapping[str, Any], on_read: Callable[[str, Any], None]) -> None:
        self._values = values
        self._on_read = on_read

    def __getitem__(self, name: str) -> Any:
        value = self._values[name]
        self._on_read(name, value)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self.items()))  # every value is read (and reported) on the way


# ---------------------------------------------------------------- lenient (dry-run) rendering


class _Named(dict[str, Any]):
    """A context mapping that knows its dotted path, so a missing key renders in full."""

    _rb_path = ""


def _named(value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        return value
    named = _Named({k: _named(v, f"{path}.{k}") for k, v in value.items()})
    named._rb_path = path
    return named


def render_lenient(text: str, context: Mapping[str, Any], interpreter: str | None = None) -> str:
    """Render for a dry run: unknown variables show as ``{{ name }}``; a broken template as is."""
    try:
        return _render(text, context, lenient=True, interpreter=interpreter)
    except Exception:  # noqa: BLE001 - the plan shows it as written; lint reports the problem
        return text


def _render(text: str, context: Mapping[str, Any], lenient: bool,
            interpreter: str | None) -> str:
    if not _has_template(text):
        return text
    text = _go_safe(text)
    token = quoted.set([])
    try:
        matches = _simple(text)
        if matches is not None:  # lookups only: no loops or calls to budget
            out = _render_simple(text, matches, context, lenient=lenient)
        else:
            with budget():
                envs = _envs()
                if lenient:
                    template = _compile(text, envs.LENIENT_ENV, _compiled_lenient)
                    out = _generate(template, {k: _named(v, k) for k, v in context.items()})
                else:
                    out = _generate(_compile(text, envs.ENV, _compiled), context)
        values = quoted.get() or []
    finally:
        quoted.reset(token)
    if not values:
        return out
    subs = [Substitution(m.start(), m.end(), values[int(m.group(1))], "a '| q' value")
            for m in MARKER_RE.finditer(out) if int(m.group(1)) < len(values)]
    return substitute(out, subs, language_role(interpreter))


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
        names, steps = frozenset(), frozenset()
        envs = _envs()
        try:
            tree = envs.ENV.parse(text)
            names = frozenset(envs.meta.find_undeclared_variables(tree))
            steps = frozenset(_steps_in(tree))
        except (envs.TemplateSyntaxError, RecursionError, SyntaxError):
            pass  # problem() reports it
    if len(_analysed) > _CACHE_LIMIT:
        _analysed.clear()
    _analysed[source] = (names, steps)
    return names, steps


def _steps_in(tree: nodes.Template) -> set[str]:
    from jinja2 import nodes

    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
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


def problem(text: str) -> TemplateError | None:
    """What keeps ``text`` from compiling in the sandbox (syntax, unknown filter or test,
    a forbidden statement), with its line inside ``text``; None when it compiles."""
    if not _has_template(text) or _simple(text) is not None:
        return None
    try:
        _code(_go_safe(text))
    except TemplateError as exc:
        return exc
    return None


def syntax_error(text: str) -> str | None:
    """``problem(text)`` as a message naming the template line, or None."""
    found = problem(text)
    if found is None:
        return None
    return f"{found.message} (template line {found.line})" if found.line else found.message


def expression_template(expr: str) -> str:
    """A ``when`` expression as a template, for analysis (``{{ x }}`` accepted too)."""
    stripped = expr.strip()
    return stripped if stripped.startswith("{{") else "{{ " + stripped + " }}"


_FALSE_WORDS = frozenset({"", "false", "no", "0", "off", "none", "null"})


def evaluate(expr: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` expression in the sandbox; any failure raises TemplateError."""
    source = expr.strip()
    if source.startswith("{{") and source.endswith("}}"):
        source = source[2:-2].strip()
    try:
        with budget():
            compiled = _expressions.get(source)
            if compiled is None:
                compiled = _envs().ENV.compile_expression(source, undefined_to_none=False)
                if len(_expressions) > _CACHE_LIMIT:
                    _expressions.clear()
                _expressions[source] = compiled
            value = compiled(**context)
            if isinstance(value, str):  # "{{ flag }}" with flag="false" means false
                return value.strip().lower() not in _FALSE_WORDS
            return bool(value)
    except Exception as exc:  # noqa: BLE001 - one line for whatever the expression did
        error = as_template_error(exc, _envs().ENV)
        raise TemplateError(f"cannot evaluate {expr!r}: {error.message}") from None


# ---------------------------------------------------------------- placeholders


def substitute_placeholders(code: str, values: Mapping[str, str], lenient: bool = False,
                            interpreter: str | None = None) -> str:
    """Replace ``<name>`` placeholders by their values, each quoted for where it lands (see
    quoting.py); a missing value is kept (lenient) or a TemplateError, like one that cannot be
    placed safely."""
    subs: list[Substitution] = []
    for match, _kind in iter_placeholders(code):
        name = match.group(1)
        if name not in values:
            if lenient:
                continue
            lowered = {key.lower(): key for key in values}
            hint = difflib.get_close_matches(name.lower(), list(lowered), n=1)
            extra = f" (did you mean '{lowered[hint[0]]}'?)" if hint else ""
            raise TemplateError(f"placeholder <{name}> has no value: pass --var {name}=...{extra}")
        subs.append(Substitution(match.start(), match.end(), str(values[name]), f"<{name}>"))
    try:
        return substitute(code, subs, language_role(interpreter))
    except QuotingError as exc:
        if lenient:
            return code
        raise TemplateError(str(exc)) from None


# ---------------------------------------------------------------- reports


def report_environment(templates_dir: str,
                       filters: Mapping[str, Callable[..., Any]] = {}) -> jinja2.Environment:  # noqa: B006
    """The jinja environment for transcript reports: autoescape for HTML, the report's filters
    (they live with the reports, transcript/filters.py; this module only owns jinja2).

    The templates are ours, but what they show (titles, commands, output) came from a runbook
    and its run: the sandbox keeps that data from reaching anything but its own values."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
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
