"""The programs a runbook's steps call, and those this machine does not have (``command -v``).

``lint --strict`` reports each missing one at its ``path:line``; ``runbook test`` leaves a step
that calls one unverified instead of failing it for a tool the machine lacks. Builtins, keywords,
functions and aliases the runbook defines, paths and words a template or a placeholder fills in
are not programs to look for.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import lazyre
from .danger import command_of
from .model import SHELL_LANGS, Runbook, Step
from .parse.lines import word_set
from .parse.shapes import words_defined
from .placeholders import find_placeholders
from .shell_lex import commands

#: what bash runs itself: never looked up on PATH
BUILTINS = word_set(
    ": . [ [[ ]] { } ! alias bg bind break builtin caller case cd command compgen complete "
    "compopt continue coproc declare dirs disown do done echo elif else enable esac eval exec "
    "exit export false fc fg fi for function getopts hash help history if in jobs kill let local "
    "logout mapfile popd printf pushd pwd read readarray readonly return select set shift shopt "
    "source suspend test then time times trap true type typeset ulimit umask unalias unset until "
    "wait while")
_NAME = lazyre.compile(r"^[A-Za-z0-9_][\w.+-]*$")
_TEMPLATE = lazyre.compile(r"\{\{(?:(?!\{\{).)*?\}\}|\{%(?:(?!\{%).)*?%\}", re.S)  # linear
_ASSIGNMENT = lazyre.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
#: shells that read a step's code (a step with another interpreter is that program's business)
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash"})


@dataclass(frozen=True)
class Call:
    """A program a step calls, and the runbook line it is called on."""

    name: str
    path: str
    line: int


def calls(step: Step, defined: frozenset[str] = frozenset()) -> list[Call]:
    """The programs ``step`` calls: each distinct name once, at its first line."""
    found: dict[str, Call] = {}
    if step.kind == "engine" and step.interpreter:
        name = _program(step.interpreter.split()[0] if step.interpreter.split() else "")
        if name:
            found[name] = Call(name, step.path, step.line)
    if step.kind != "shell" or (step.interpreter and _interpreter(step) not in SHELLS):
        return list(found.values())
    if step.lang and step.lang not in SHELL_LANGS and step.lang != "console":
        return list(found.values())
    # what a template fills in is not known here: the same length of ``_`` keeps the offsets
    code = _TEMPLATE.sub(lambda m: "_" * len(m.group(0)), step.code) if "{" in step.code \
        else step.code
    for command in commands(code):
        if not command.words or command.start < 0:
            continue
        line = step.code_line + code.count("\n", 0, command.start)
        for name in _names(command.words):
            if name not in defined and name not in found:
                found[name] = Call(name, step.path, line)
    return list(found.values())


def _interpreter(step: Step) -> str:
    words = (step.interpreter or "").split()
    return words[0].rsplit("/", 1)[-1] if words else ""


def _names(words: list[str]) -> Iterator[str]:
    """The wrapper (``sudo``, ``timeout``) and the program it runs, when they are programs."""
    start = 0
    while start < len(words) and _ASSIGNMENT.match(words[start]):
        start += 1  # FOO=1 cmd
    first = _program(words[start]) if start < len(words) else None
    if first:
        yield first
    last = _program(command_of(words)[0])
    if last and last != first:
        yield last


def _program(word: str) -> str | None:
    """``word`` as a program to look up on PATH, or None (a builtin, a path, a template...)."""
    if word in BUILTINS or not _NAME.match(word) or set(word) == {"_"}:
        return None  # a builtin, a path, $VAR, a word a template fills in (masked as ___)
    return None if find_placeholders(word) else word


def defined_in(runbook: Runbook) -> frozenset[str]:
    """Functions and aliases the runbook's shell steps define (later steps may call them)."""
    return frozenset(name for step in runbook.steps if step.kind == "shell"
                     for name in words_defined(step.code))


def missing(found: Iterable[Call], lookup: Callable[[str], str | None] = shutil.which,
            ) -> list[Call]:
    """The calls whose program this machine does not have (what ``command -v`` finds)."""
    have: dict[str, bool] = {}
    out = []
    for call in found:
        if call.name not in have:
            have[call.name] = lookup(call.name) is not None
        if not have[call.name]:
            out.append(call)
    return out
