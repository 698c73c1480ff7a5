"""Reading a command line with its tool's grammar: flags, option values, subcommand paths.

`parse_args` splits arguments into flags, option values and positionals (``kubectl -n prod
delete``: ``prod`` is a value, ``delete`` the subcommand); `match_path` finds a subcommand path
among the positionals; `command_start` finds where a wrapper's command begins (``sudo -u
postgres psql``, ``kubectl exec pod -- sh``). `segments`, `words`, `command_of` and
`fed_language` are the shell helpers other modules use.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import lazyre
from .danger_grammar import (
    DEFAULT_GRAMMAR,
    DRY_RUN_FLAGS,
    EXEC_PATHS,
    GRAMMARS,
    POWERSHELL_GRAMMAR,
    TOOL_ALIASES,
    WRAPPERS,
    Grammar,
    Wrapper,
)
from .shell_lex import commands

# ---------------------------------------------------------------- argument grammar


@dataclass
class Parsed:
    """A command's arguments read with its tool's grammar."""

    flags: set[str] = field(default_factory=set)
    values: dict[str, list[str]] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    index: list[int] = field(default_factory=list)  # argument index of each positional
    ambiguous: list[bool] = field(default_factory=list)  # right after an unknown option
    dashdash: int = -1


def parse_args(args: Sequence[str], grammar: Grammar) -> Parsed:
    """Split arguments into flags, option values and positionals (``-n prod`` is a value)."""
    out = Parsed()
    values = grammar.value_opts
    unknown_before = False
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        i += 1
        if arg == "--" and out.dashdash < 0:
            out.dashdash = i - 1
            continue
        if out.dashdash >= 0 or not arg or arg[0] not in "-/" or arg == "-" or \
                (arg[0] == "/" and not (grammar.slash_flags and _is_slash_flag(arg))):
            out.positionals.append(arg.lower() if grammar.ci else arg)
            out.index.append(i - 1)
            out.ambiguous.append(unknown_before)
            unknown_before = False
            continue
        name = arg.lower() if grammar.ci else arg
        unknown_before = False
        if name.startswith("--") or not grammar.clusters or name[0] == "/" or name in values:
            key, eq, value = name.partition("=")
            if not eq and ":" in key and grammar.ci:  # PowerShell -Name:value, cmd /w:C:\
                key, eq, value = key.partition(":")
            out.flags.add(key)
            if eq:
                out.values.setdefault(key, []).append(value)
            elif key in values and i < n and not _is_option(args[i]):
                out.values.setdefault(key, []).append(args[i])
                i += 1
            else:
                unknown_before = key not in values and not _is_known_flag(key)
                if grammar.greedy_values and i < n and args[i][:1] not in ("-", ""):
                    out.values.setdefault(key, []).append(args[i])  # and still a positional
            continue
        out.flags.add(name)
        # a lone unknown short option (``-b /srv/repo``) may take the next word as its value
        unknown_before = len(name) == 2 and name not in values and not _is_known_flag(name)
        for pos in range(1, len(name)):
            short = "-" + name[pos]
            out.flags.add(short)
            rest = name[pos + 1:]
            if short in values or (short in grammar.optional_attached and rest):
                if rest:
                    out.values.setdefault(short, []).append(rest)
                elif short in values and i < n and not _is_option(args[i]):
                    out.values.setdefault(short, []).append(args[i])
                    i += 1
                break
    return out


def _is_option(arg: str) -> bool:
    """A word that is itself an option, so the option before it took no value."""
    return len(arg) > 1 and arg[0] == "-" and not arg[1].isdigit()


def _is_slash_flag(arg: str) -> bool:
    name = arg.split(":", 1)[0]
    return 2 <= len(name) <= 12 and name[1:].replace("-", "").isalpha() and "/" not in name[1:]


def _is_known_flag(name: str) -> bool:
    # long options that never take a value, however unknown the tool (--force, --all, -y)
    return name in ("--force", "--all", "--yes", "--recursive", "--quiet", "--verbose",
                    "--wait", "--now", "--rm", "--purge", "--delete", "-y", "-q", "-v", "-f",
                    "--debug", "--insecure", "--no-wait", "--ignore-not-found", "--cascade")


def has_flag(parsed: Parsed, alternatives: str, grammar: Grammar) -> str | None:
    for alt in alternatives.split("|"):
        alt = alt.lower() if grammar.ci else alt
        if "*" in alt:
            hit = next((f for f in parsed.flags if fnmatch.fnmatchcase(f, alt)), None)
            if hit:
                return hit
        elif alt in parsed.flags:
            return alt
        elif grammar.ci and alt.startswith("-") and not alt.startswith("--"):
            # PowerShell accepts any unambiguous prefix of a parameter name (-Rec, -Fo)
            hit = next((f for f in parsed.flags if len(f) >= 2 and alt.startswith(f)), None)
            if hit:
                return hit
    return None


def option_value(parsed: Parsed, options: str, globs: str, grammar: Grammar) -> str | None:
    """The first value of one of ``options`` that matches ``globs`` (``~regex``: a regex)."""
    regex = re.compile(globs[1:], re.IGNORECASE) if globs.startswith("~") else None
    patterns = [g.lower() for g in globs.split("|")]
    for option in options.split("|"):
        for value in parsed.values.get(option.lower() if grammar.ci else option, []):
            if regex.search(value) if regex else any(fnmatch.fnmatchcase(value.lower(), p)
                                                      for p in patterns):
                return value
    return None


class _Level:
    """One level of a subcommand path: ``delete|del`` (a set lookup) or ``delete-*`` (a regex)."""

    __slots__ = ("ci", "regex", "words")

    def __init__(self, level: str, ci: bool) -> None:
        self.ci = ci
        self.words = frozenset(a.lower() if ci else a for a in level.split("|") if "*" not in a)
        globs = [re.escape(a).replace(r"\*", ".*") for a in level.split("|") if "*" in a]
        self.regex = re.compile("(?:" + "|".join(globs) + r")\Z", re.IGNORECASE if ci else 0) \
            if globs else None

    def match(self, word: str) -> bool:
        if (word.lower() if self.ci else word) in self.words:
            return True
        return self.regex is not None and self.regex.match(word) is not None


@functools.cache
def _level(level: str, ci: bool) -> _Level:
    return _Level(level, ci)


def match_path(path: tuple[str, ...], parsed: Parsed, ci: bool) -> tuple[int, int] | None:
    """(first, end) positional indices of the subcommand path, or None."""
    if not path:
        return 0, 0
    positionals = parsed.positionals
    levels = path[1:] if path[0] == "**" else path
    starts: list[int]
    if path[0] == "**":
        starts = list(range(min(len(positionals), 6)))
    else:  # a positional right after an unknown option may be its value: try past it
        starts = [0]
        while starts[-1] < len(positionals) and parsed.ambiguous[starts[-1]]:
            starts.append(starts[-1] + 1)
    for start in starts:
        end = start + len(levels)
        if end <= len(positionals) and all(
                _level(level, ci).match(positionals[start + k]) for k, level in enumerate(levels)):
            return start, end
    return None


ASSIGNMENT_RE = lazyre.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")


def tool_name(word: str) -> str:
    name = word.lstrip("\\")
    if "\\" in name:  # C:\Program Files\tool.exe
        name = name.rsplit("\\", 1)[-1]
    if name.lower().endswith((".exe", ".jar")):  # java -jar jenkins-cli.jar: the tool is the jar
        name = name[:-4]
    return TOOL_ALIASES.get(name.rsplit("/", 1)[-1], name)


def grammar_for(name: str, powershell: bool) -> Grammar:
    grammar = GRAMMARS.get(name) or GRAMMARS.get(name.lower())
    if grammar is not None:
        return grammar
    if "-" in name and (powershell or name[0].isupper()):
        return POWERSHELL_GRAMMAR
    return DEFAULT_GRAMMAR


def rehearsal(parsed: Parsed, grammar: Grammar) -> bool:
    """A dry run: ``--dry-run`` (not ``=none``), the tool's own (``-n``), or a task argument
    ``DRY_RUN=true`` (rake and make tasks: ``gitlab-rake gitlab:cleanup:... DRY_RUN=true``)."""
    for flag in parsed.flags & (DRY_RUN_FLAGS | grammar.dry_run):
        values = parsed.values.get(flag, [])
        if not values or values[-1].lower() not in ("none", "false", "0"):
            return True
    return any(_DRY_RUN_ARG.match(word) for word in parsed.positionals)


_DRY_RUN_ARG = lazyre.compile(r"(?i)dry_?run=(?:true|1|yes)\Z")


def exec_path(name: str, parsed: Parsed, grammar: Grammar) -> tuple[Wrapper, int] | None:
    """``docker exec``, ``kubectl exec``, ``gcloud compute ssh``: the wrapper and where the
    arguments after the subcommand start."""
    for (_tool, path), wrapper in _exec_paths_for(name):
        span = match_path(tuple(path.split()), parsed, grammar.ci)
        if span is None:
            continue
        offset = parsed.index[span[1] - 1] + 1 if span[1] else 0
        return wrapper, offset
    return None


@functools.cache
def _exec_paths_for(name: str) -> tuple[tuple[tuple[str, str], Wrapper], ...]:
    return tuple(item for item in EXEC_PATHS.items() if item[0][0] == name)


def command_start(args: Sequence[str], wrapper: Wrapper, parsed: Parsed) -> int | None:
    """Index of the argument where the wrapped command (or code string) starts."""
    if wrapper.after_dashdash:
        return parsed.dashdash + 1 if 0 <= parsed.dashdash < len(args) - 1 else None
    if parsed.dashdash >= 0 and len([k for k in parsed.index if k < parsed.dashdash]) >= \
            wrapper.skip:
        return parsed.dashdash + 1 if parsed.dashdash < len(args) - 1 else None
    if len(parsed.positionals) > wrapper.skip:
        return parsed.index[wrapper.skip]
    return None


# ---------------------------------------------------------------- helpers others use


def fed_language(interpreter: str) -> str | None:
    """The language of what is fed on stdin to ``interpreter`` (``sudo -u postgres psql`` ->
    ``sql``, ``kubectl exec -i redis-0 -- redis-cli`` -> ``redis``), or None when unknown."""
    found = commands(interpreter)
    words = found[0].words if found else []
    for _hop in range(8):
        if not words:
            return None
        name = tool_name(words[0]).rsplit("/", 1)[-1]
        wrapper = WRAPPERS.get(name)
        grammar = grammar_for(name, powershell=False)
        offset = 1
        if wrapper is None:
            via = exec_path(name, parse_args(words[1:], grammar), grammar)
            if via is None:
                return None
            wrapper, skip = via
            offset += skip
        if wrapper.lang != "shell" or wrapper.mode != "argv":
            return wrapper.lang
        args = words[offset:]
        begin = command_start(args, wrapper, parse_args(args, Grammar(wrapper.value_opts)))
        if begin is None:
            return "shell"
        words = args[begin:]
    return None



def segments(text: str) -> list[tuple[str, str]]:
    """Simple commands as (separator before, source text); quotes stay inside their command."""
    return [(c.sep, text[c.start:c.end]) for c in commands(text) if c.start >= 0]


# possessive (++, *+): nothing follows that could make them give back, and sre keeps a frame
# per turn of a repeated group otherwise (a word of 1 MB of braces: 120 MB)
_WORD_RE = lazyre.compile(r"""(?:[^\s'"\\]|\\.|'[^']*'?|"(?:[^"\\]|\\.)*+"?)++""")
_UNQUOTE_RE = lazyre.compile(r"""\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?""")


def words(segment: str) -> list[str]:
    """Shell words with quotes removed (a fast, forgiving stand-in for shlex.split)."""
    # finditer: findall's list and this one, both of an 8 MB line's words, took 110 MB at once
    return [_UNQUOTE_RE.sub(_unquote, m.group()) for m in _WORD_RE.finditer(segment)]


def _unquote(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] == "\\":
        return text[1:]
    return text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]


def command_of(words: list[str]) -> tuple[str, list[str]]:
    """Strip prefixes that run a command here as written (sudo, env X=1, timeout 5, ...) and
    return (command basename, arguments)."""
    if words and words[0] not in WRAPPERS and not any(c in words[0] for c in "=/\\({!"):
        return words[0], words[1:]  # the common case: a plain command word
    for _hop in range(12):
        start = 0
        while start < len(words) and ASSIGNMENT_RE.match(words[start].lstrip("({!")):
            start += 1
        words = words[start:]
        if not words:
            return "", []
        name = tool_name(words[0].lstrip("({!") or words[0])
        wrapper = WRAPPERS.get(name)
        if wrapper is None or not wrapper.transparent:
            return name.rsplit("/", 1)[-1], words[1:]
        grammar = Grammar(value_opts=wrapper.value_opts)
        begin = command_start(words[1:], wrapper, parse_args(words[1:], grammar))
        if begin is None:
            return name.rsplit("/", 1)[-1], words[1:]
        words = words[1 + begin:]
    return "", []
