"""Matching a command against the danger rules, and the cheap word prefilter before it.

`best_match` finds the worst row of `danger_rules.py` a parsed command meets (then the most
specific one) and writes its reason, scope included (``in namespace prod``). `may_be_dangerous`
is the prefilter: code that names no tool, verb or statement of the tables is not looked at.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass

from . import lazyre
from .danger_args import Parsed, has_flag, match_path, option_value
from .danger_grammar import (
    ACTION_OPTIONS,
    ADMIN_BODY_KEYS,
    ADMIN_BODY_WORDS,
    ADMIN_PATH_SAFE,
    ADMIN_PATH_WORDS,
    DESTRUCTIVE_WORDS,
    GENERIC_FLAGS,
    NAME_PREFIX_VERBS,
    NAME_SUFFIX_VERBS,
    NOT_PREFIXED_NAMES,
    OPTION_NAMES,
    READ_ONLY_OPERANDS,
    SUBCOMMAND_WORDS,
    Grammar,
)
from .danger_rules import RULES, Rule
from .danger_text import TEXT_TRIGGERS

# ---------------------------------------------------------------- prefilter

_PARTS_RE = lazyre.compile(r"[a-z0-9]+")
# `> file`, `: > file` at the start of a command: the file is emptied
_EMPTYING_RE = lazyre.compile(r"(?:^|[;&|(\n'\"])[ \t]*(?::|true|cat[ \t]+/dev/null|echo[ \t]+-n)?"
                              r"[ \t]*>\|?[ \t]*[^\s>&|]", re.MULTILINE)
# `: | tee file`: nothing piped into tee, so the file is emptied
_EMPTY_TEE_RE = lazyre.compile(r"(?::|true|echo[ \t]+-n|cat[ \t]+/dev/null)[ \t]*\|[ \t]*"
                               r"(?:sudo[ \t]+(?:-\S+[ \t]+)*)?tee\b")
RAW_DEVICE_RE = lazyre.compile(r"/dev/(?:[sh]d[a-z]|nvme|xvd|vd[a-z]|mmcblk|disk\d|md\d|mapper/)|"
                            r"/proc/sysrq-trigger")


#: ``del`` glued to its object (``delzone``, ``delsnapshot``, ``delnode``), not an English word
_DEL = r"del(?!ay|ta|iver|egat|imit|ight|ica|inqu|ve|uge|phi|l)"
_SUFFIX_VERB_RE = lazyre.compile(r"[a-z](?:delete|destroy|purge|wipe|kill|cancel|restore|off|"
                                 r"remove|cleanup)\b|"
                                 r"\b-?(?:delete|erase|destroy|purge|wipe|" + _DEL + r")[a-z]{3,}")


#: a verb first in a camelCase name (``removeFramework``, ``rebootClusterFromCompleteOutage``)
_CAMEL_VERB_RE = lazyre.compile(r"(?<![A-Za-z])(?:remove|delete|destroy|drop|purge|wipe|erase"
                                r"|reboot|"
                                r"stop|kill|shutdown|terminate|cancel|disable|reset|force|dissolve|"
                                r"evict|unregister|deregister|uninstall)[A-Z]")


_IBM_WORD_RE = lazyre.compile(r"(?:^|[\s/|;&(])(?:dlt|end|clr)[a-z]{2,5}(?:\s|$)")


def _name_parts(name: str) -> list[str]:
    return _PARTS_RE.findall(name.lower())


@functools.cache
def _triggers() -> frozenset[str]:
    """Every word whose presence makes code worth a full look (built once, on first use)."""
    words: set[str] = set()
    for trigger in TEXT_TRIGGERS:  # the prefilter sees words split at `_`: pg_terminate_backend
        words.add(max(_name_parts(trigger), key=len))
    for rule in RULES:
        for tool in rule.tools:
            parts = _name_parts(tool)
            words.add(max(parts, key=len) if parts else tool.lower())
    for group in (*DESTRUCTIVE_WORDS.values(), *SUBCOMMAND_WORDS.values()):
        words |= group
    for flag in GENERIC_FLAGS:  # the verb of each: --delete-server -> delete
        parts = _name_parts(flag)
        words |= {part for part in parts[1:] if destructive_name(part)} | set(parts[:1])
    words |= {max(_name_parts(tool), key=len) for tool in OPTION_NAMES}
    words |= {part for option in ACTION_OPTIONS for part in _name_parts(option)}
    words |= {"scale", "resize"}  # ... scale --node-count 0
    words |= {"false", "inactive", "disabled", "off", "stopped", "suspended"}  # enabled=false
    words |= ADMIN_PATH_WORDS
    words |= {"del", "unlink", "hdel", "flushall", "flushdb", "exec", "sysrq"}
    words |= {"nc", "ncat", "netcat", "socat", "telnet", "diskpart"}  # what they are fed counts
    return frozenset(words)


def may_be_dangerous(code: str) -> bool:
    lowered = code.lower()
    # one word at a time: findall's list of an 8 MB line's words took 60 MB
    if not _triggers().isdisjoint(m.group() for m in _PARTS_RE.finditer(lowered)):
        return True
    if _SUFFIX_VERB_RE.search(lowered) or _CAMEL_VERB_RE.search(code) or \
            _IBM_WORD_RE.search(lowered):  # ldapdelete, scancel, removeFramework, endmqm
        return True
    if "/dev/" in lowered and RAW_DEVICE_RE.search(lowered):
        return True
    if "tee" in lowered and _EMPTY_TEE_RE.search(code):
        return True
    return ">" in code and bool(_EMPTYING_RE.search(code))


# ---------------------------------------------------------------- rule matching


@functools.cache
def _rules_index() -> tuple[dict[str, tuple[Rule, ...]], tuple[tuple[str, Rule], ...]]:
    exact: dict[str, list[Rule]] = {}
    globs: list[tuple[str, Rule]] = []
    for rule in RULES:
        for tool in rule.tools:
            if "*" in tool:
                globs.append((tool, rule))
            else:
                exact.setdefault(tool, []).append(rule)
    return {k: tuple(v) for k, v in exact.items()}, tuple(globs)


@functools.lru_cache(maxsize=1024)
def rules_for(name: str) -> tuple[Rule, ...]:
    """The rules that apply to a tool (exact name, then lower-case, then globs like mkfs.*)."""
    exact, globs = _rules_index()
    found = exact.get(name) or exact.get(name.lower()) or ()
    lowered = name.lower()
    cmdlet = _CMDLET_RE.match(lowered) is not None
    return found + tuple(rule for pattern, rule in globs if fnmatch.fnmatchcase(lowered, pattern)
                         and (cmdlet or rule.family != "powershell"))


@functools.lru_cache(maxsize=1024)
def subcommand_tool(name: str) -> bool:
    """A tool whose rows name subcommands (``lxc delete``): its other subcommands are verbs
    too. Tools whose rows only look at flags or operands (``mv``, ``kill``) are not."""
    return any(rule.path for rule in rules_for(name))


@functools.lru_cache(maxsize=1024)
def row_words(name: str, k: int) -> frozenset[str]:
    """The subcommand words a row of the tool names at position ``k`` (any position for a
    ``**`` row): its author decided when those destroy (``npm uninstall`` only with ``-g``),
    so no fallback second-guesses them; ``lxc image delete`` is not ``lxc delete``'s row."""
    words: set[str] = set()
    for rule in rules_for(name):
        levels = rule.path[1:] if rule.path[:1] == ("**",) else rule.path[k:k + 1]
        words.update(word for level in levels for word in level.split("|"))
    return frozenset(words)


@functools.lru_cache(maxsize=1024)
def row_flags(name: str) -> frozenset[str]:
    """Every flag a row of the tool names, as a condition or an exception (``mdadm --stop``)."""
    flags: set[str] = set()
    for rule in rules_for(name):
        for group in (*rule.flags, rule.unless):
            flags.update(f for f in group.split("|") if f)
    return frozenset(flags)


_CMDLET_RE = lazyre.compile(r"[a-z]+-[a-z0-9]+\Z")
_MASKED_RE = lazyre.compile(r"_x+_\Z")
SCRIPT_FILE_RE = lazyre.compile(r"\.(?:sh|bash|py|rb|pl|ps1|js|ts|php|ya?ml|sql|tf|bat|cmd)\Z")


@dataclass
class _Hit:
    rule: Rule
    sub: str
    value: str


def match_rule(rule: Rule, parsed: Parsed, grammar: Grammar, raw_positionals: list[str],
               stdin: Stdin | None) -> _Hit | None:
    """Does this invocation meet the rule's path and conditions?"""
    span = match_path(rule.path, parsed, grammar.ci)
    if span is None:
        return None
    if rule.path and raw_positionals[span[1]:span[1] + 1] and \
            raw_positionals[span[1]].lower() in READ_ONLY_OPERANDS:
        return None  # nodetool removenode status
    if rule.stdin and (stdin is None or stdin.kind == "text"):
        return None
    if any(has_flag(parsed, group, grammar) is None for group in rule.flags):
        return None
    if rule.unless and has_flag(parsed, rule.unless, grammar):
        return None
    value = ""
    for options, globs in rule.values:
        found = option_value(parsed, options, globs, grammar)
        if found is None:
            return None
        value = value or found
    if any(option_value(parsed, o, g, grammar) is not None for o, g in rule.unless_values):
        return None
    operands = raw_positionals[span[1]:] if rule.path else raw_positionals
    if rule.named:  # the task or script is the first operand; the rest are its arguments
        operands = operands[:1]
    if rule.operand or rule.admin_url or rule.named:
        hit = _operand(rule, operands + parsed.values.get("--url", []))
        if hit is None and rule.admin_url:
            hit = _admin_body(parsed)
        if hit is None:
            return None
        value = value or hit
    first = 0 if rule.path[:1] == ("**",) else span[0]  # gcloud compute instances delete
    return _Hit(rule, " ".join(raw_positionals[first:span[1]]), value)


def _rank(rule: Rule) -> tuple[int, int]:
    detail = len(rule.path) + len(rule.flags) + len(rule.values) + bool(rule.operand)
    return rule.severity, detail


def _operand(rule: Rule, operands: list[str]) -> str | None:
    for operand in operands:
        if rule.operand and re.search(rule.operand, operand):
            return operand
        if rule.admin_url and _admin_url(operand):
            return operand
        if rule.named and destructive_name(operand):
            return operand
    return None


def _admin_url(operand: str) -> bool:
    if "/" not in operand and not operand.startswith("_"):
        return False
    path = operand.split("://", 1)[-1]
    path = path[path.find("/"):] if "/" in path else path
    path = re.sub(r"([a-z])([A-Z])", r"\1_\2", path)  # Jenkins' doDelete, doWipeOutWorkspace
    path = "/".join(s for s in re.split(r"[/?&]", path.lower()) if s not in ADMIN_PATH_SAFE)
    words = set(re.split(r"[^a-z0-9]+|_", path))
    words |= set(re.split(r"[/?&=]+", path.lower()))  # whole segments: step-down, force-leave
    return not ADMIN_PATH_WORDS.isdisjoint(words)


def admin_url(url: str) -> bool:
    """A URL whose path says it changes or destroys state (``.../job/x/42/stop``)."""
    return _admin_url(url)


def _admin_body(parsed: Parsed) -> str | None:
    for option in ("-d", "--data", "--data-raw", "--data-binary", "--json", "--body-data",
                   "--post-data", "--body"):
        for body in parsed.values.get(option, []):
            if not ADMIN_BODY_WORDS.isdisjoint(re.findall(r"[a-z_]+", body.lower())) or \
                    ADMIN_BODY_KEYS.search(body):
                return body
    return None


_VERB_FIRST_RE = lazyre.compile(r"(delete|erase|destroy|purge|wipe|" + _DEL + r")[a-z]{3,}\Z|"
                                r"[a-z]{3,}(?:delete|destroy|purge|remove|wipe)\Z")


def subcommand_kind(word: str) -> str | None:
    """The kind of a subcommand word that only destroys as a verb (``rb``, ``disable``), whole
    or as a part of a compound (``user-del``, ``host-evacuate``, ``cancel_consumer``), or a verb
    glued to its object (``deleteunreferenced``, ``eraseVolume``, ``deleteUser``, ``delzone``,
    ``autoremove``, ``removeFramework``)."""
    if _VERB_FIRST_RE.match(word.lower()):
        return "delete"
    parts = identifier_words(word)
    for part in parts:
        kind = next((kind for kind, words in SUBCOMMAND_WORDS.items() if part in words), None)
        if kind:
            return kind
    if len(parts) > 1 and word[:1].islower() and _CAMEL_RE.search(word):
        return destructive_name(parts[0])  # removeFramework, rebootCluster: the verb first
    return None


_CAMEL_RE = lazyre.compile(r"[a-z0-9][A-Z]")


def identifier_words(word: str) -> list[str]:
    """The words of an identifier, lower-case: ``cancel_consumer``, ``host-evacuate``,
    ``pg:reset``, ``removeFramework`` (camelCase), ``sr.forget``."""
    if any(c.isspace() for c in word):
        return []  # "before pause": a message, not an identifier
    spaced = _CAMEL_RE.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1], word)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def name_suffix_kind(name: str) -> str | None:
    """The kind of a tool whose name ends in its verb (``ldapdelete``, ``scancel``, ``bkill``),
    or starts with IBM's abbreviated one (``endmqm``, ``dltmqm``)."""
    lowered = name.lower()
    prefixed = _IBM_NAME_RE.match(lowered)
    if prefixed and lowered not in NOT_PREFIXED_NAMES:
        return next(kind for kind, verbs in NAME_PREFIX_VERBS.items() if prefixed.group(1) in verbs)
    return next((kind for kind, verbs in NAME_SUFFIX_VERBS.items()
                 if any(lowered.endswith(verb) and lowered != verb for verb in verbs)), None)


_IBM_NAME_RE = lazyre.compile(r"(dlt|end|clr)[a-z]{2,5}\Z")


_CONTROL_FILE_RE = lazyre.compile(r"/(?:sys|proc)/\S+/([\w-]+)\Z")


def control_file(path: str) -> bool:
    """A kernel control file named for what writing to it does (``/sys/block/sdf/device/delete``,
    ``/sys/bus/pci/devices/.../remove``, ``/proc/sys/vm/drop_caches``)."""
    match = _CONTROL_FILE_RE.match(path)
    return match is not None and destructive_name(match.group(1)) is not None


def destructive_name(name: str) -> str | None:
    parts = set(re.split(r"[^a-z0-9]+", name.lower()))
    for kind, words in DESTRUCTIVE_WORDS.items():
        if not words.isdisjoint(parts):
            return kind
    return None


def scope_suffix(parsed: Parsed, grammar: Grammar) -> str:
    suffix = ""
    for options, template in grammar.scope:
        for option in options:
            value = parsed.values.get(option, [""])[0]
            if value and not _MASKED_RE.match(value):  # not a <placeholder> the operator fills
                suffix += template.format(value)
                break
    if {"-A", "--all-namespaces"} & parsed.flags and grammar.scope:
        suffix += " in every namespace"
    return suffix


@dataclass(frozen=True)
class Stdin:
    """What a command reads: literal text (heredoc, ``echo ... |``), a file, or another's output."""

    kind: str  # "text" | "file" | "data"
    text: str = ""


def best_match(rules: tuple[Rule, ...], name: str, args: list[str], parsed: Parsed,
               grammar: Grammar, stdin: Stdin | None) -> tuple[Rule, str] | None:
    """The worst matching rule (then the most specific) and its reason, scope included."""
    raw = [args[k] for k in parsed.index]
    best: _Hit | None = None
    for rule in rules:
        hit = match_rule(rule, parsed, grammar, raw, stdin)
        if hit is not None and (best is None or _rank(hit.rule) > _rank(best.rule)):
            best = hit
    if best is None:
        return None
    reason = best.rule.reason.format(cmd=name, sub=best.sub, value=best.value)
    return best.rule, reason + scope_suffix(parsed, grammar)
