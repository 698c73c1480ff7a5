"""Every failure of a runbook template as one ``TemplateError`` line, with its template line."""

from __future__ import annotations

import difflib
import re
from types import TracebackType
from typing import TYPE_CHECKING

from .. import lazyre
from ..model import RunbookError
from .limits import TemplateRefused

if TYPE_CHECKING:
    import jinja2


class TemplateError(RunbookError):
    """A template cannot render: undefined variable, syntax error, placeholder without value."""

    exit_code = 2



_JINJA_MESSAGES = (
    (lazyre.compile(r"No filter named '([^']*)'"), "filter", "filters"),
    (lazyre.compile(r"No test named '([^']*)'"), "test", "tests"),
)


def _syntax_message(exc: jinja2.TemplateSyntaxError, env: jinja2.Environment) -> str:
    from .sandbox import Forbidden

    if isinstance(exc, Forbidden):
        return exc.message or "not allowed in runbook templates"
    for pattern, kind, table in _JINJA_MESSAGES:
        match = pattern.match(exc.message or "")
        if match:
            names = [n for n in getattr(env, table) if not n.startswith("__rb")]
            hint = difflib.get_close_matches(match.group(1), names, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            return f"unknown {kind} '{match.group(1)}'{extra}"
    return f"template syntax error: {exc.message}"


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    match = re.match(r"'([^']+)' is undefined", str(exc))
    return f"undefined variable '{match.group(1)}'" if match else f"undefined value: {exc}"


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line an error happened on (jinja rewrites frames to template lines)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def as_template_error(exc: BaseException, env: jinja2.Environment) -> TemplateError:
    """Any failure while compiling or rendering a template as one TemplateError line."""
    import jinja2  # (a template failed: jinja2 is loaded already)
    from jinja2.sandbox import SecurityError

    line = _template_line(exc.__traceback__)
    if isinstance(exc, TemplateError):
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(_one_line(_syntax_message(exc, env)), line=exc.lineno)
    if isinstance(exc, jinja2.UndefinedError):
        message = _undefined_message(exc)
    elif isinstance(exc, SecurityError | TemplateRefused):
        message = str(exc)
    elif isinstance(exc, RecursionError | SyntaxError):
        message = "template nests too deeply"
    elif isinstance(exc, MemoryError):
        message = "template needs too much memory"
    else:  # a filter or test failed on a value: still the runbook's template
        message = f"template error: {type(exc).__name__}: {exc}"
    return TemplateError(_one_line(message), line=line)
