"""How a tool without rules is judged: by its name, its first subcommand words and its options.

Nobody can list every operations tool, so a tool `danger_rules.py` does not know is read the way
an engineer reads an unfamiliar command line: a name that says what it does (``wipe-cache.sh``,
``ldapdelete``, ``qmrestore``), a verb among its first subcommand words (``mc admin user rm``,
``rndc delzone``, ``realm leave``), or an option that is the action. For tools whose verbs are
short options (``conntrack -F``, ``pfctl -k``), `OPTION_NAMES` gives each option its long name
from the tool's manual, and the long name is judged like any long option. Operands are never
judged (``tool copy notes.txt del`` is quiet), and a first word that reads (``describe``,
``list``) makes the rest its object.
"""

from __future__ import annotations

import re

from . import lazyre
from .danger_args import Parsed
from .danger_grammar import (
    ACTION_OPTIONS,
    DEEP_SUBCOMMAND_WORDS,
    DESTRUCTIVE_WORDS,
    GENERIC_FLAG_KINDS,
    GENERIC_FLAGS,
    KNOWN_FLAG_LOOKALIKES,
    KNOWN_LOOKALIKES,
    KNOWN_TOOL_FLAGS,
    OPTION_NAMES,
    READ_ONLY_OPERANDS,
    READ_VERBS,
    SCALE_OPTIONS,
    SUBCOMMAND_WORDS,
)
from .danger_match import (
    SCRIPT_FILE_RE,
    destructive_name,
    identifier_words,
    name_suffix_kind,
    row_flags,
    row_words,
    subcommand_kind,
)

_SUBCOMMAND_RE = lazyre.compile(r"[a-z][a-zA-Z0-9_-]*\Z")
#: subcommand words of a tool with rules that no row names: only plain verbs of deletion,
#: stopping and failing over (a row's author chose what restore, rollback or cleanup mean for
#: that tool), whole or first in a compound (``argocd app terminate-op``)
_KNOWN_TOOL_VERBS = {
    **dict.fromkeys(DESTRUCTIVE_WORDS["delete"] - {"decommission", "unregister"}, "delete"),
    **dict.fromkeys(SUBCOMMAND_WORDS["delete"] - {"gc", "free"}, "delete"),
    # not `kubectl rollout pause`, nor `aws autoscaling detach-instances` (kept for forensics)
    **dict.fromkeys(SUBCOMMAND_WORDS["stop"] - {"pause", "detach"}, "stop"),
    **dict.fromkeys(("stop", "kill", "terminate", "shutdown", "halt", "poweroff", "drain",
                     "evict", "demote", "hibernate"), "stop"),
    **dict.fromkeys(("failover", "switchover", "takeover", "promote", "rollback"), "reset"),
}
#: subcommands that ask about what follows (``kubectl auth can-i delete``)
_QUERIES = frozenset({"can-i", "query", "check", "test", "verify", "tree", "explain"})
#: ``docker service scale batch-worker=0``
_TO_ZERO_RE = lazyre.compile(r"[\w.-]+=0\Z")
_KEEPING = ("--no-", "--skip-", "--keep-", "--dry-", "--without-", "--ignore-")
#: a Windows switch that is the verb (``dnscmd /recorddelete``, ``tool /zonedelete``)
_SWITCH_RE = lazyre.compile(r"/[a-z]{3,30}\Z")
#: first words of a long option that only read (``firewall-cmd --query-panic``, ``--list-all``)
_READING_OPTION = READ_VERBS | {"query", "print", "dump"}
#: verbs that, first in an option that takes a value, make the value their object
#: (``firewall-cmd --remove-port=9443/tcp``, ``--delete-branch x``)
_VALUE_VERBS = frozenset({"delete", "remove", "drop", "purge", "destroy", "wipe", "kill",
                          "revoke", "erase", "del", "rm"})
#: second words that make such an option a setting, not an action (``--delete-after=7d``)
_SETTING_WORDS = frozenset({"after", "before", "older", "interval", "delay", "timeout", "days",
                            "age", "ttl", "policy", "threshold", "mode", "retention", "on", "if",
                            "when", "protection", "marker", "empty", "limit", "batch", "grace"})
#: settings whose value turns a user, a scope or a service on or off
_SWITCH_KEYS = frozenset({"enabled", "enable", "active", "state", "status", "startuptype",
                          "start_mode", "startmode"})
_OFF_VALUES = frozenset({"false", "$false", "0", "no", "off", "disabled", "inactive", "stopped",
                         "offline", "suspended"})
#: a value of an action option that names a destructive action (``SOFTSTOP``, ``poweroff``)
_ACTION_VALUE_RE = lazyre.compile(r"(?:delete|remove|destroy|stop|reset|off|kill|terminate|reboot|"
                                  r"shutdown|purge|wipe|drain|disable|detach|logout)\Z")


def generic_kind(name: str, parsed: Parsed, named: bool,
                 everyday: bool = False) -> tuple[str, str] | None:
    """(kind of harm, the words that say so) for a tool without rules, or None. ``named``:
    the tool's own name may be judged (not ``$(...)`` or a variable); ``everyday``: a command
    such as ``tar`` or ``gpg``, judged by its options only."""
    if everyday:
        return _option_action(name, parsed)
    if named:
        kind = destructive_name(name) or name_suffix_kind(name)
        if kind:
            return kind, name
    if parsed.positionals[:1] and parsed.positionals[0] in READ_VERBS or \
            parsed.positionals[-1:] == ["status"]:
        return None  # tool describe delete-policy, tool remove-brick ... status: queries
    return _generic_subcommand(name, parsed) or _option_action(name, parsed) or \
        _scaled_to_zero(name, parsed) or _switched_off(name, parsed)


def known_tool_kind(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """A tool whose rows did not match: a verb among its subcommands that no row names
    (``lxc image delete``, ``kubectl cnpg destroy``, ``docker node demote``), or a service
    scaled to zero (``docker service scale batch=0``); not its harmless look-alikes
    (``systemctl reset-failed``, ``git reset`` without ``--hard``)."""
    lookalikes = KNOWN_LOOKALIKES.get(name, frozenset())
    before: list[str] = []
    positionals = parsed.positionals
    if positionals[-1:] == ["status"]:
        return None  # ... remove-brick gv-media replica 2 brick status: a query
    for k, word in enumerate(positionals[:4]):
        if not _SUBCOMMAND_RE.match(word) or word in READ_VERBS or word in _QUERIES or \
                word in lookalikes:
            break  # an operand, or a query about what follows (kubectl auth can-i delete)
        verb = word if word in _KNOWN_TOOL_VERBS else identifier_words(word)[0]
        kind = _KNOWN_TOOL_VERBS.get(verb) or (DEEP_SUBCOMMAND_WORDS.get(word) if k else None)
        if kind and word not in row_words(name, k):
            if positionals[k + 1:k + 2] and positionals[k + 1] in READ_ONLY_OPERANDS:
                return None  # kubectl cnpg hibernate status
            return kind, " ".join([name, *before, word])
        before.append(word)
    return _scaled_to_zero(name, parsed) or _known_tool_flag(name, parsed)


def _known_tool_flag(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """An option of a tool with rules that says it deletes or stops and that no row of the
    tool names (``argocd app sync --prune``, ``docker swarm init --force-new-cluster``)."""
    named = row_flags(name) | KNOWN_FLAG_LOOKALIKES.get(name, frozenset())
    for flag in sorted(parsed.flags):
        kind = KNOWN_TOOL_FLAGS.get(flag)
        if kind and flag not in named:
            return kind, f"{name} {' '.join(parsed.positionals[:2])} {flag}".replace("  ", " ")
    return None


def _generic_subcommand(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """The kind of destruction the first words after an unknown tool name say, and those
    words (``mc admin user svcacct rm``): any of the first three may be a script or task named
    so (``drop_cache.sh``); deeper, and for whole verbs like ``rb`` or ``disable``, only while
    every word so far is shaped like a subcommand (a path right after an unknown option is
    that option's value: ``reprepro -b /srv/repo remove``). ``removenode status`` only reads."""
    shaped = True
    positionals = parsed.positionals
    for k, word in enumerate(positionals[:5]):
        word_shaped = _SUBCOMMAND_RE.match(word) is not None
        if word_shaped or not parsed.ambiguous[k]:
            shaped = shaped and word_shaped
        if k >= 3 and not shaped:
            break
        if "/" in word and SCRIPT_FILE_RE.search(word):  # playbooks/db-rollback.yml
            word = word.rsplit("/", 1)[-1]
        kind = _word_kind(word, shaped) or (DEEP_SUBCOMMAND_WORDS.get(word) if k and shaped
                                            else None)
        if kind:
            if positionals[k + 1:k + 2] and positionals[k + 1] in READ_ONLY_OPERANDS:
                return None
            before = [w for w in positionals[:k] if _SUBCOMMAND_RE.match(w)]
            return kind, " ".join([name, *before, word])
    return None


def _word_kind(word: str, shaped: bool) -> str | None:
    if _SWITCH_RE.match(word):  # dnscmd /recorddelete: a switch glued to its verb
        verb = word[1:]
        return destructive_name(verb) or subcommand_kind(verb) or name_suffix_kind(verb)
    kind = destructive_name(word) if len(word) < 40 and not \
        any(c in word for c in "/ \n") else None
    if kind is None and shaped:
        kind = subcommand_kind(word)
    return kind


def _option_action(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """An option that is the action: ``--delete``, ``--purge-all``, ``-deleteUser``, a short
    option whose long name says so (``pfctl -k``), a verb taking its object as the value
    (``--remove-port=443``) or an action option (``--action SOFTSTOP``); not ``--no-delete``."""
    long_names = OPTION_NAMES.get(name, {})
    for flag in sorted(parsed.flags):
        long = long_names.get(flag, flag)
        kind = _flag_kind(long, valued=flag in parsed.values)
        shown = flag if long == flag else f"{flag} ({long})"
        if kind is None and long in ACTION_OPTIONS:  # iscsiadm -o delete, --action SOFTSTOP
            value = next((v for v in parsed.values.get(flag, []) if _names_action(v)), None)
            kind = (destructive_name(value) or "stop") if value else None
            shown = f"{flag} {value}"
        if kind:
            return kind, f"{name} {shown}"
    return None


def _names_action(value: str) -> bool:
    """An action option's value that names a destructive action, at its end (``SOFTSTOP``) or
    as the first word of a camelCase one (``sapcontrol -function StopSystem``)."""
    words = identifier_words(value)
    return _ACTION_VALUE_RE.search(value.lower()) is not None or \
        bool(words and _ACTION_VALUE_RE.match(words[0]))


def _flag_kind(flag: str, valued: bool) -> str | None:
    """The kind of harm a long option or a single-dash word names, or None."""
    kind = next((k for k, flags in GENERIC_FLAG_KINDS.items() if flag in flags), None)
    if kind or flag.startswith(_KEEPING):
        return kind
    if flag.startswith("--"):
        words = [w for w in flag[2:].split("-") if w]
        if not words or words[0] in _READING_OPTION:
            return None
        if valued:  # --remove-port=443: the verb first, the value its object
            setting = len(words) > 1 and words[1] in _SETTING_WORDS
            return destructive_name(words[0]) if words[0] in _VALUE_VERBS and not setting \
                else None
        return next((k for k in map(destructive_name, words) if k), None)
    if flag in GENERIC_FLAGS or valued:
        return None
    # single-dash words: -delete, -deleteUser (macOS and BSD tools)
    if len(flag) > 4 and flag[1].isalpha() and (
            destructive_name(flag[1:]) is not None or subcommand_kind(flag[1:]) == "delete"):
        return destructive_name(flag[1:]) or "delete"
    if re.match(r"-[a-z]+[_-][a-z]", flag):  # -sr_disable: a compound whose verb says so
        return subcommand_kind(flag[1:])
    return None


def _switched_off(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """A setting that switches the thing off (``kcadm.sh update users/ID -s enabled=false``,
    ``Set-DhcpServerv4Scope -State InActive``, ``tool set --active=no``)."""
    pairs = [tuple(p.split("=", 1)) for p in parsed.positionals if "=" in p]
    pairs += [(flag.lstrip("-"), value) for flag, values in parsed.values.items()
              for value in values]
    for key, value in pairs:
        if key.lower().rsplit(".", 1)[-1] in _SWITCH_KEYS and \
                value.lower().strip("'\"") in _OFF_VALUES:
            return "stop", f"{name} {key}={value}"
    return None



def _scaled_to_zero(name: str, parsed: Parsed) -> tuple[str, str] | None:
    """``tool ... scale|resize ... --node-count 0``: every machine or replica stops."""
    verb = next((w for w in parsed.positionals[:5] if
                 {"scale", "resize"} & set(identifier_words(w)[:2])), None)
    option = next((o for o in sorted(SCALE_OPTIONS) if parsed.values.get(o, [""])[-1] == "0"),
                  None) or next((w for w in parsed.positionals if _TO_ZERO_RE.match(w)), None)
    return ("stop", f"{name} {verb} {option}".removesuffix("=0") + " 0") if verb and option \
        else None
