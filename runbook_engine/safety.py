"""Static safety analysis of step code: placeholders, environment reads, syntax, step danger."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from . import lazyre
from .danger import danger_reasons, fed_language, language_family
from .model import Step
from .placeholders import PlaceholderSpan, find_placeholders, mask_placeholders
from .redact import looks_secret
from .shell_lex import Span, SpanKind, scan, without_comments

# danger_reasons and the lexer live in danger.py / shell_lex.py; re-exported for callers
__all__ = ["PLACEHOLDER_RE", "Span", "SpanKind", "danger_language", "danger_reasons", "env_reads",
           "iter_placeholders", "placeholders", "scan", "secret_env_names", "step_danger",
           "syntax_problems", "without_comments"]

#: ``<name>`` placeholders as written in plain runbooks (``<your-db-name>``, ``<PID>``); the
#: other forms (``YOUR_TOKEN``, ``example.com``...) come from placeholders.find_placeholders
PLACEHOLDER_RE = lazyre.compile(r"(?<!<)<([A-Za-z][A-Za-z0-9_.-]*)>")
_ENV_RE = lazyre.compile(r"(?<!\\)\$(?:\{#?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGN_RE = lazyre.compile(
    r"(?:^|(?<=[\s;&|(`]))(?:(?:export|local|declare|typeset|readonly)\s+(?:-\w+\s+)*)?"
    r"([A-Za-z_][A-Za-z0-9_]*)\+?="
)
_READ_RE = lazyre.compile(
    r"(?:^|(?<=[\s;&|(]))(?:read|mapfile|readarray)((?:\s+-[rseat]+|\s+-[pdnNuCc]\s*\S+)*)"
    r"((?:\s+[A-Za-z_][A-Za-z0-9_]*)+)"
)
_FOR_RE = lazyre.compile(r"(?:^|(?<=[\s;&|(]))(?:for|select)\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Variables bash sets by itself (not the environment) and the ones the runner provides.
_SHELL_VARS = _names(
    "_ BASH BASHPID BASH_SOURCE BASH_LINENO BASH_REMATCH BASH_VERSION EUID FUNCNAME HISTCMD "
    "HOSTNAME HOSTTYPE IFS LINENO MACHTYPE OLDPWD OPTARG OPTIND OSTYPE PIPESTATUS PPID PWD "
    "RANDOM REPLY SECONDS SHELLOPTS SHLVL SRANDOM UID EPOCHSECONDS EPOCHREALTIME"
)


# ---------------------------------------------------------------- placeholders and environment


class PlaceholderMatch:
    """A placeholder found by placeholders.find_placeholders, with the ``re.Match`` methods
    substitution uses (``group(1)`` is the name, ``start()``/``end()`` the span)."""

    __slots__ = ("span",)

    def __init__(self, span: PlaceholderSpan) -> None:
        self.span = span

    def group(self, index: int = 0) -> str:
        return self.span.name if index else self.span.form

    def start(self) -> int:
        return self.span.start

    def end(self) -> int:
        return self.span.end


def iter_placeholders(code: str) -> Iterator[tuple[PlaceholderMatch, SpanKind]]:
    """Every placeholder outside comments (all forms people write: ``<name>``, ``<two words>``,
    ``YOUR_TOKEN``, ``CHANGEME``, ``xxx``, ``example.com`` hosts, ``x.x.x.x``), with the lexical
    context it sits in."""
    found = find_placeholders(code)
    if not found:
        return
    spans = scan(code)
    for placeholder in found:
        where = next((s for s in spans if s.start <= placeholder.start < s.end), None)
        if where is None or where.kind == "comment" or placeholder.end > where.end:
            continue  # in a comment, or across quotes (not one value)
        yield PlaceholderMatch(placeholder), where.kind


def placeholders(code: str) -> list[str]:
    """Placeholder names in first-appearance order, each once."""
    return list(_placeholder_names(code))


@functools.lru_cache(maxsize=65536)
def _placeholder_names(code: str) -> tuple[str, ...]:
    # asked for each step by the plan's variables, the step itself and the engine
    return tuple(dict.fromkeys(m.group(1) for m, _ in iter_placeholders(code)))


def env_reads(code: str) -> list[str]:
    """Environment variables the code reads and did not assign itself first, sorted."""
    if "$" not in code:
        return []
    events: list[tuple[int, int, str]] = []  # (position, 0 assign / 1 read, name)
    for span in scan(code):
        if span.kind in ("comment", "squote", "heredoc_quoted"):
            continue
        for match in _ENV_RE.finditer(code, span.start, span.end):
            events.append((match.start(), 1, match.group(1) or match.group(2)))
        if span.kind == "code":
            events.extend((pos, 0, name) for pos, name in _assignments(span.text, span.start))
    assigned: set[str] = set()
    reads: set[str] = set()
    for _pos, kind, name in sorted(events):
        if kind == 0:
            assigned.add(name)
        elif name not in assigned and name not in _SHELL_VARS and not name.startswith("RUNBOOK_"):
            reads.add(name)
    return sorted(reads)


def _assignments(text: str, offset: int) -> Iterator[tuple[int, str]]:
    for match in _ASSIGN_RE.finditer(text):
        yield offset + match.start(1), match.group(1)
    for match in _FOR_RE.finditer(text):
        yield offset + match.start(1), match.group(1)
    for match in _READ_RE.finditer(text):
        for name in match.group(2).split():
            yield offset + match.start(2), name


def secret_env_names(names: Iterable[str]) -> list[str]:
    """The names that look like they hold secrets (``*TOKEN*``, ``*PASSWORD*``, ...)."""
    return [name for name in names if looks_secret(name)]


# ---------------------------------------------------------------- syntax


_LINE_MSG_RE = lazyre.compile(r"line (\d+): (.*)$")
# an expression ends before the next opener: `.*?` alone scanned to the line's end per `{{`
_TEMPLATE_EXPR_RE = lazyre.compile(r"\{\{(?:(?!\{\{).)*?\}\}|\{#(?:(?!\{#).)*?#\}")
_TEMPLATE_STMT_RE = lazyre.compile(r"\{%(?:(?!\{%).)*?%\}")


def syntax_problems(code: str, shell: str = "bash") -> list[tuple[int, str]]:
    """``bash -n`` findings as (line in code, message), placeholders and templates neutralised."""
    neutral = mask_placeholders(code)
    neutral = _TEMPLATE_EXPR_RE.sub(lambda m: "T".ljust(len(m.group(0))), neutral)
    neutral = _TEMPLATE_STMT_RE.sub(lambda m: ":".ljust(len(m.group(0))), neutral)
    import shutil  # lint only: plan must not pay for subprocess
    import subprocess

    program = shutil.which(shell) if shell in ("bash", "sh", "dash", "zsh", "ksh") else None
    program = program or shutil.which("bash") or "bash"
    try:
        proc = subprocess.run([program, "-n"], input=neutral, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [(1, f"could not run {program} -n: {exc}")]
    found: dict[int, str] = {}
    for line in proc.stderr.splitlines():
        match = _LINE_MSG_RE.search(line)
        if match and int(match.group(1)) not in found:
            found[int(match.group(1))] = match.group(2).strip()
    if proc.returncode and not found:
        found[1] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "syntax error"
    return sorted(found.items())


# ---------------------------------------------------------------- danger


def step_danger(step: Step) -> list[str]:
    """The danger reasons shown for a step: its own override plus what the detector finds.

    Every step that holds code is analysed in its language, executable or not: a manual step's
    SQL is run by the operator's hands, and a doc step may be pasted."""
    if step.danger is False:
        return []
    reasons = danger_reasons(step.code, danger_language(step)) if step.code.strip() else []
    if step.danger is True:
        return ["marked dangerous", *[r for r in reasons if r != "marked dangerous"]]
    return reasons


def danger_language(step: Step) -> str:
    """The language a step's code is read in: the client it is fed to, else its tag (a shell
    step whose tag names no language we know is shell)."""
    if step.interpreter:
        fed = fed_language(step.interpreter)
        if fed:
            return fed
    if step.kind in ("shell", "engine") and language_family(step.lang) in ("data", "other"):
        return "bash"
    return step.lang or "bash"
