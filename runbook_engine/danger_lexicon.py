"""The last look at a command nothing else flagged: a destructive verb in any of its verb places.

Rules fitted to one set of runbooks carry little to the next: each new tool spells its verbs its
own way (``endmqm``, ``ps:scale worker=0``, ``-sr_takeover``, ``-function StopSystem``,
``ensure=stopped``). What they share is the verb itself. This fallback looks for a word of
`LEXICON` in every part of the places a command says what it does -- the program's name, its
first subcommand words, its option names, and the values of options and ``key=value`` settings
(split on ``- _ : . / =`` and camelCase, in any inflection: ``stopped`` is ``stop``) -- plus
IBM-style verb prefixes (``dltmqm``, ``endmqm``, ``clrpfm``) and the first word of a line typed
at a console (MQSC ``STOP CHANNEL(X)``). Operands and quoted words are never read; a command
that reads (a read-only first subcommand, ``--dry-run``, ``--help``) is exempt. It only adds a
finding to a command no rule flagged, and names the word it found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import lazyre
from .danger_grammar import NAME_PREFIX_VERBS, NOT_PREFIXED_NAMES

#: verb -> the kind of harm; words are decided by the labelled corpus and the unseen batches:
#: ``restart``, ``reload``, ``force``, ``format``, ``replace``, ``move``, ``pause``, ``restore``,
#: ``umount`` and ``off`` were left out (service restarts, ``Format-Table``, ``zpool replace``,
#: ``--force`` on a harmless update, ``restic restore --target``, ``maintenance:mode --off`` are
#: labelled safe far more often than not); ``end`` counts only as IBM's prefix (``endmqm``: a
#: console's ``end`` leaves a mode)
LEXICON: dict[str, str] = {
    **dict.fromkeys((
        "delete", "del", "dlt", "remove", "rm", "rmi", "rmdir", "destroy", "drop", "purge",
        "wipe", "erase", "prune", "clean", "cleanup", "nuke", "shred", "uninstall", "unregister",
        "deregister", "decommission", "retire", "revoke", "unpublish", "discard", "expunge",
        "obliterate", "deprovision", "unprovision", "unenroll", "teardown", "zap", "forget",
        "deleteall", "delall", "rmr", "undefine", "unpublish", "dissolve", "unexport",
        "mkfs"), "delete"),
    **dict.fromkeys((
        "stop", "kill", "halt", "shutdown", "poweroff", "reboot", "terminate", "cancel",
        "abort", "suspend", "disable", "deactivate", "detach", "drain", "fence", "evacuate",
        "evict", "offline", "quiesce", "hibernate", "kick", "disconnect", "down", "scale",
        "unplug", "unjoin", "leave", "ban", "close", "logout"), "stop"),
    **dict.fromkeys((
        "reset", "clear", "clr", "flush", "truncate", "failover", "takeover", "switchover",
        "promote", "demote", "rollback", "revert", "downgrade", "overwrite", "reimage",
        "reformat", "reinit", "reinitialize"), "reset"),
    # a primary that steps down (``rs.stepDown()``, ``nats server raft step-down``)
    "stepdown": "stop",
}
#: words that count only as a whole word or a whole compound part in a verb place, never as an
#: option value (``--log-level=off``, ``--until=end``) nor glued to a name (``backend``)
_WEAK = frozenset({"down", "scale", "clean", "clear", "forget", "kick", "rm", "del", "dlt",
                   "clr", "zap"})
#: words a tool with rules keeps for its rows to judge (``nodetool cleanup``, ``pcs resource
#: clear``, ``kill -TSTP``: the rows name the harmful forms)
_ROWS_DECIDE = frozenset({"cleanup", "clean", "clear", "kill", "reset", "down", "detach"})
#: a word after the verb that undoes or asks (``kubectl cnpg fencing off``)
_UNDOING = frozenset({"off", "status", "undo", "cancel"})
#: PowerShell's verbs of filtering and formatting (``Where-Object DisconnectReason -ne $null``)
_READING_CMDLETS = frozenset({"where", "select", "sort", "measure", "format", "out", "compare",
                              "group", "convertto", "convertfrom", "foreach"})
#: first words of an option that keep or negate what follows (``--no-delete``)
_KEEPING = frozenset({"no", "skip", "keep", "dry", "without", "ignore", "not", "preserve"})
#: second words that make an option a setting of the verb, not the verb (``--delete-after``)
_SETTING_WORDS = frozenset({"after", "before", "older", "interval", "delay", "timeout", "days",
                            "age", "ttl", "policy", "threshold", "mode", "retention", "on", "if",
                            "when", "protection", "marker", "empty", "limit", "batch", "grace",
                            "period", "size", "max", "min", "count"})
#: verbs strong enough to count in an option name even of a tool with rows (``nomad node
#: eligibility -disable``); weaker ones (``--remove-orphans``) stay with the rows
STRONG_OPTION_VERBS = frozenset({"disable", "delete", "destroy", "purge", "drain",
                                  "decommission"})
#: options of tools with rows that name a strong verb but are labelled safe
SAFE_OPTIONS = frozenset({"--remove-orphans", "--delete-config", "--delete-emptydir-data",
                           "--disable-eviction", "--purge-history"})
#: values that switch an option off (``Set-Disk -IsOffline $false``)
_FALSE = frozenset({"false", "$false", "no", "0", "none", "off"})
#: what the operator reads, by kind
_SAYS = {"delete": "deletes", "stop": "stops", "reset": "resets or overwrites"}
#: first words that only read (the command is a query about what follows)
READING = frozenset({
    "get", "describe", "list", "ls", "show", "status", "info", "inspect", "logs", "log", "diff",
    "plan", "view", "help", "explain", "search", "find", "history", "version", "check", "verify",
    "query", "preview", "top", "stats", "watch", "can-i", "cat", "print", "dump", "export",
    "validate", "lint", "test", "tree", "events", "wait", "waitfor", "monitor", "safe", "ok",
    "can", "is", "has", "estimate", "usage", "whoami"})
#: options that make a command a rehearsal or a question
_READING_OPTIONS = frozenset({"--dry-run", "--dryrun", "--help", "-h", "--what-if", "-whatif",
                              "--whatif", "--noop", "--check", "--simulate", "--list",
                              "--preview", "--plan", "--validate", "--explain"})
#: programs that only read or only print, whatever their arguments
READ_ONLY_PROGRAMS = frozenset({
    "grep", "egrep", "fgrep", "rg", "cat", "less", "more", "man", "echo", "printf", "test",
    "ls", "head", "tail", "wc", "stat", "file", "which", "type", "whereis", "diff", "jq", "yq",
    "watch", "sed", "awk", "date", "sleep", "find", "tee"})
#: programs whose rows alone decide: their verbs are code, URLs or build targets (``make
#: clean``, ``curl -X DELETE``, ``git stash``, ``apt-get clean``)
_LEFT_TO_RULES = frozenset({
    "curl", "wget", "http", "git", "make", "apt", "apt-get", "yum", "dnf", "brew", "pip", "npm",
    "yarn", "cargo", "go", "python", "python3", "bash", "sh", "ssh", "scp", "rsync", "tar",
    "journalctl", "timeout"})
_PARTS_RE = lazyre.compile(r"[A-Za-z][a-z0-9]*|[0-9]+")
_CAMEL_RE = lazyre.compile(r"[a-z0-9][A-Z]")
#: IBM's verb-first program names: three letters of verb, then a short object
_PREFIX_RE = lazyre.compile(r"(dlt|end|clr|del|rm)([a-z]{2,5})\Z")
#: IBM's prefixes (the grammar's table), and the last look's own del- and rm- (``deluser``)
_PREFIX_KINDS = {prefix: kind for kind, prefixes in NAME_PREFIX_VERBS.items()
                 for prefix in prefixes} | {"del": "delete", "rm": "delete"}
#: a subcommand word: a dotted or slashed word is an operand (``notes.txt``, ``osd.3``)
_SHAPED_RE = lazyre.compile(r"[A-Za-z][\w:-]*\Z")
_VALUE_RE = lazyre.compile(r"[A-Za-z][\w:.-]{1,60}\Z")
_TO_ZERO_RE = lazyre.compile(r"(?:=|\A)0\Z")


def _inflections() -> dict[str, str]:
    forms: dict[str, str] = {}
    for word in LEXICON:
        base = word[:-1] if word.endswith("e") else word
        double = word + word[-1] if re.search(r"[^aeiou][aeiou][bdgkmnprt]\Z", word) else word
        for form in (word, word + "s", word + "es", base + "ed", double + "ed", base + "ing",
                     double + "ing", base + "ion"):
            forms.setdefault(form, word)
    return forms


#: every inflected form -> its verb (``stopped`` -> ``stop``)
FORMS = _inflections()
_STRONG_GLUED_RE = lazyre.compile(
    r"(?<!un)(?:delete|destroy|purge|wipe|remove|erase|shutdown|terminate|uninstall|decommission|"
    r"failover|takeover|switchover|poweroff|reboot|undefine)")


def parts(word: str) -> list[str]:
    """The lower-case parts of a word: ``ps:scale`` -> ps, scale; ``StopSystem`` -> stop,
    system; ``-sr_takeover`` -> sr, takeover."""
    spaced = _CAMEL_RE.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1], word)
    return [p.lower() for p in _PARTS_RE.findall(spaced)]


_WORD_RE = lazyre.compile(r"[a-z0-9]+")
#: words `safety_off_finding` looks for
_SAFETY_HINT_RE = lazyre.compile(r"protect|allow|maint|weight|replicas|instances|desired",
                                 re.IGNORECASE)
_PREFIXED_RE = lazyre.compile(r"(?:^|[\s/|;&(])(?:dlt|end|clr|del|rm)[a-z]{2,5}(?:\s|$)")


def may_match(code: str) -> bool:
    """A cheap check that the code holds some form of a lexicon word."""
    lowered = code.lower()  # one word at a time, as danger_match's scan (8 MB lines)
    return not FORMS.keys().isdisjoint(m.group() for m in _WORD_RE.finditer(lowered)) or \
        _STRONG_GLUED_RE.search(lowered) is not None or _PREFIXED_RE.search(code) is not None \
        or ("(" in code and method_finding(code) is not None) \
        or _SAFETY_HINT_RE.search(code) is not None


def _verb_in(word: str, value: bool = False, skip: frozenset[str] = frozenset()) -> str | None:
    """The lexicon verb a word holds in one of its parts, or None; a reading part before it
    makes the word a query (``safe-to-destroy``, ``WaitforStopped``, ``vm-list``)."""
    words = parts(word)
    joined = FORMS.get("".join(words)) if len(words) == 2 else None
    if joined in ("stepdown", "shutdown") and joined not in skip:
        return joined  # step-down, shut-down: one verb in two parts
    for part in words:
        if part in READING:
            return None
        # a past participle is a state: a value may name it (``ensure=stopped``), but a name,
        # subcommand or option that is one describes (``CLOSED``, ``--deleted``)
        verb = FORMS.get(part)
        if verb and not value and part != verb and part.endswith("d"):
            verb = None
        if verb and not (value and verb in _WEAK) and verb not in skip:
            return verb
    return None


def _judged_option(key: str, following: str, rows: frozenset[str]) -> bool:
    """An option name worth reading for a verb: not a letter, not switched off (``-IsOffline
    $false``), not kept or negated (``--no-delete``, ``--keep-reset-counters``), not a
    setting of the verb (``--delete-after=7d``, ``--flush-interval``), and not an option of a
    tool with rows (``docker compose up --remove-orphans``: its rows judge its options)."""
    words = parts(key)
    if len(key.lstrip("-")) < 2 or following.lower() in _FALSE or not words:
        return False
    if rows and (key.lower() in SAFE_OPTIONS or not STRONG_OPTION_VERBS.intersection(
            FORMS.get(word) for word in words)):
        return False  # a tool with rows: only its strongest verbs, not its known-safe options
    if words[0] in _KEEPING:
        return False
    return not (len(words) > 1 and words[1] in _SETTING_WORDS)


def _reads(word: str) -> bool:
    """A subcommand that asks rather than acts: a reading part before any verb (``list``,
    ``vm-list``, ``ok-to-stop``)."""
    for part in parts(word):
        if part in READING:
            return True
        if part in FORMS:
            return False
    return False


def _glued(word: str) -> str | None:
    """A strong verb glued to its object in a subcommand (``removenode``, ``net-undefine``)."""
    glued = _STRONG_GLUED_RE.search(word.lower())
    return glued.group(0) if glued else None


def _verb_of_name(name: str) -> str | None:
    """A verb in a program's name: a part (``wipe-cache.sh``), IBM's prefix (``endmqm``), or a
    strong verb glued into it (``ldapdelete``, ``qmrestore`` is left to the rules)."""
    base = name.rsplit("/", 1)[-1].lower()
    base = re.sub(r"\.(?:sh|py|exe|ps1|bat|cmd|pl|rb)\Z", "", base)
    verb = _verb_in(base)
    if verb:
        return verb
    prefixed = _PREFIX_RE.match(base)
    if prefixed and base not in NOT_PREFIXED_NAMES:
        return prefixed.group(1)
    return _glued(base)


def lexicon_finding(name: str, args: Sequence[str], quoted: Sequence[bool] = (),
                    rows: frozenset[str] | None = None) -> tuple[str, str] | None:
    """(reason, verb) for the first lexicon verb in a verb place of ``name args``, or None.
    ``rows``: the tool has rules, none of which matched, and these are its listed look-alike
    words: its name and its row-decided words are then not judged again."""
    program = name.rsplit("/", 1)[-1].lower()
    if program in READ_ONLY_PROGRAMS or program in _LEFT_TO_RULES or not name or name[0] in "$({[<":
        return None
    quoted = list(quoted) + [False] * (len(args) - len(quoted))
    if any(a.lower() in _READING_OPTIONS or a.lower().startswith("--dry-run") for a in args):
        return None
    positionals = [a for a in args if not a.startswith("-")]
    if positionals[-1:] == ["status"]:
        return None  # ... remove-brick gv0 replica 2 brick status: a query
    if _reads(name) or parts(name)[:1] and parts(name)[0] in _READING_CMDLETS:
        return None  # Get-ClusterGroup, Where-Object, show-config.sh
    found = _verb_of_name(name) if rows is None else None
    shown = name
    if found is None:
        skip = frozenset() if rows is None else _ROWS_DECIDE
        found, shown = _in_arguments(args, quoted, skip, rows or frozenset())
    if found is None:
        return None
    if found == "disable" and any(_MAINT_RE.search(a) for a in positionals):
        return None  # consul maint -disable: maintenance ends, the node comes back
    if found == "scale" and not any(_TO_ZERO_RE.search(a) for a in args):
        return None  # scaling is harmless unless to zero
    kind = LEXICON.get(found) or _PREFIX_KINDS[found]
    if shown != name:
        shown = f"{name} {shown}"
    return f"{_SAYS[kind]}: `{shown}` (the word {found})", found


def _in_arguments(args: Sequence[str], quoted: Sequence[bool], skip: frozenset[str],
                  lookalikes: frozenset[str]) -> tuple[str | None, str]:
    """The verb in the first subcommand words, option names or option values."""
    subcommands = 0
    before: list[str] = []  # the subcommand words before the verb, to show
    after_option = False
    for k, (arg, was_quoted) in enumerate(zip(args, quoted, strict=False)):
        if was_quoted or arg in lookalikes:
            after_option = False
            continue
        if arg.startswith("-") and len(arg) > 1:
            key, _, value = arg.partition("=")
            following = value or (args[k + 1] if k + 1 < len(args) else "")
            verb = _verb_in(key, skip=skip) if _judged_option(key, following, skip) else None
            if verb is None and value and _VALUE_RE.match(value):
                verb = _verb_in(value, value=True)
            if verb:
                return verb, arg
            after_option = not value
            continue
        if "=" in arg and not after_option:  # ensure=stopped: the value is the action
            value = arg.partition("=")[2]
            verb = _verb_in(value, value=True, skip=skip) if _VALUE_RE.match(value) else None
            if verb:
                return verb, arg
            continue
        if after_option and "=" in arg:  # --filter event=destroy: a selector
            after_option = False
            continue
        if after_option and _VALUE_RE.match(arg):  # -function StopSystem
            after_option = False
            verb = _verb_in(arg, value=True, skip=skip)
            if verb:
                return verb, arg
            continue
        if subcommands >= 3 or not _SHAPED_RE.match(arg):
            subcommands = 3  # an operand: never judged, nor what follows it
            continue
        if _reads(arg):
            return None, ""
        verb = _verb_in(arg, skip=skip) or _glued(arg)
        following = args[k + 1].lower() if k + 1 < len(args) else ""
        if verb and (following in READING or following in _UNDOING):
            return None, ""  # cnpg fencing off, hibernate status: undone or asked about
        if verb:
            return verb, " ".join([*before, arg])
        before.append(arg)
        subcommands += 1
    return None, ""


def console_finding(line: str) -> tuple[str, str] | None:
    """The first word of a line typed at a console (MQSC ``STOP CHANNEL(X)``)."""
    first = line.strip().split(" ", 1)[0].split("(", 1)[0]
    verb = FORMS.get(first.lower()) if first.isalpha() else None
    if verb is None:
        return None
    return f"{_SAYS[LEXICON[verb]]}: `{line.strip()[:60]}` (the word {verb})", verb


#: words a line fed to a socket or console uses to take a server out of service (HAProxy's
#: ``set server be/x state maint``), beside the lexicon's verbs
_FED_WORDS = {"maint": "stop", "maintenance": "stop"}
_WEIGHT_ZERO_RE = lazyre.compile(r"\bweight\s+(?:\S+\s+)?0+%?\s*\Z", re.IGNORECASE)


def fed_finding(line: str) -> tuple[str, str] | None:
    """A verb among the words of a line fed to a socket or typed at a console (``set server
    be/x state drain``, ``disable health be/x``, ``set weight be/x 0``); a line that starts
    with a reading word asks (``show servers state``), operands (``be/x``) are never read."""
    words = line.split()
    if not words or words[0].lower() in READING:
        return None
    shown = line.strip()[:60]
    if _WEIGHT_ZERO_RE.search(line):
        return f"stops: `{shown}` (the word weight 0)", "weight"
    for word in words[:8]:
        lowered = word.lower()
        if not lowered.isalpha():
            continue  # be_api/api-3, 0, "quoted": operands
        verb = _FED_WORDS.get(lowered) or FORMS.get(lowered)
        if verb and lowered != verb and lowered.endswith("d") and verb not in _FED_WORDS:
            continue  # a state (``disabled``), not an action
        if verb:
            word = lowered if lowered in _FED_WORDS else verb
            return f"{_SAYS[LEXICON.get(verb, 'stop')]}: `{shown}` (the word {word})", word
    return None


#: a method call in a console (mongosh, Groovy, PowerShell): ``rs.stepDown()``, ``.doKill()``
_METHOD_RE = lazyre.compile(r"\.([A-Za-z_]\w{1,60})\s*\(")
#: methods every language has on its files, lists and connections (``conn.close()``)
_EVERYDAY_METHODS = frozenset({"close", "clear", "flush", "down", "scale", "clean", "cancel",
                               "disconnect", "logout", "detach", "leave", "del", "rm"})
#: verbs only a method call spells: ``rs.freeze(300)`` keeps a member out of elections, while
#: ``rndc freeze`` (a zone held for hand edits) is routine
_METHOD_VERBS = {"freeze": "stop"}
#: words before a verb in a method's name that keep it an action (``doKill``, ``forceRemove``)
_METHOD_LEADS = frozenset({"do", "force", "step"})


def method_finding(text: str) -> tuple[str, str] | None:
    """The first method call whose name leads with a lexicon verb (``rs.stepDown()``,
    ``build.doKill()``, ``rs.freeze(300)``); a reading name (``getItemByFullName``) is not."""
    for match in _METHOD_RE.finditer(text):
        words = parts(match.group(1))
        if not words or words[0] in READING:
            continue
        joined = "".join(words[:2])
        verb = FORMS.get(joined) or FORMS.get(words[0]) or \
            (words[0] if words[0] in _METHOD_VERBS else None)
        if verb is None and words[0] in _METHOD_LEADS and len(words) > 1:
            verb = FORMS.get(words[1])
        if verb is None or verb in _EVERYDAY_METHODS or words[0].endswith("ed"):
            continue
        kind = LEXICON.get(verb) or _METHOD_VERBS[verb]
        return f"{_SAYS[kind]}: `{match.group(0)})` (the word {verb})", verb
    return None


#: a protection option negated (``--no-deletion-protection``, ``--disable-termination-protection``)
_PROTECTION_OFF_RE = lazyre.compile(r"--?(?:no|disable)-[\w-]*protect[\w-]*\Z", re.IGNORECASE)
#: a protection set false (``--deletion-protection=false``)
_PROTECTION_FALSE_RE = lazyre.compile(r"[\w-]*protect[\w-]*=(?:false|0|no|off)\Z", re.IGNORECASE)
#: a setting that allows deletion (``mon_allow_pool_delete``, ``allow_drop_table``)
_ALLOWS_DELETE_RE = lazyre.compile(r"(?:^|[\W_])allow[\w.-]*?(?:delete|drop|destroy|remove|purge)",
                                   re.IGNORECASE)
_TRUE = frozenset({"true", "1", "yes", "on", "$true"})
#: a maintenance mode, and the words that switch it on
_MAINT_RE = lazyre.compile(r"(?:^|[\W_])maint(?:enance)?(?:[:_-]?mode)?(?::on|=on|=true)?\Z",
                           re.IGNORECASE)
_ON = frozenset({"on", "-enable", "--enable", "enable", "true", "--on", "-on"})
#: a weight or a replica count set to zero (``--replicas=0``, ``weight 0``)
_TO_ZERO_KEY_RE = lazyre.compile(r"-*(?:weight|replicas|replica-count|instances|desired-count)"
                                 r"(?:=0+)?\Z", re.IGNORECASE)


#: a word each of the patterns above needs (a quick test that most arguments fail)
_SWITCH_WORD_RE = lazyre.compile(r"protect|allow|maint|weight|replica|instances|desired-count",
                                 re.IGNORECASE)
_OFF = frozenset({"off", "false", "0", "no", "$false", "--off", "-off", "disable", "-disable",
                  "--disable"})


def _switched_on(following: Sequence[str]) -> int:
    """How many of the words after a maintenance mode's name switch it on (``--on``, ``-enable``,
    ``set --enable true``: 3); 0 when they don't or switch it off (``set --enable false``)."""
    words = [word.lower() for word in following]
    for k, word in enumerate(words):
        if word in _OFF:
            return 0
        if word in _ON:
            after = words[k + 1] if k + 1 < len(words) else ""
            return 0 if after in _OFF else k + 1 + (after in _TRUE)
    return 0


def safety_off_finding(args: Sequence[str], rows: bool) -> tuple[str, str] | None:
    """A safety switched off: a protection option negated or set false, a setting that allows
    deletion set true, a maintenance mode switched on, and -- for a tool with no rows to decide
    it -- a weight or replica count set to zero."""
    for k, arg in enumerate(args):
        if not _SWITCH_WORD_RE.search(arg):
            continue  # the common case, one search: the patterns below all need one of these
        following = args[k + 1].lower() if k + 1 < len(args) else ""
        key, _, value = arg.partition("=")
        if _PROTECTION_OFF_RE.match(arg) or _PROTECTION_FALSE_RE.match(arg):
            return f"switches a protection off: `{arg}`", "protection"
        if _ALLOWS_DELETE_RE.search(key) and (value or following).lower() in _TRUE:
            return f"allows deletion: `{arg} {'' if value else following}`".replace(" `", "`")\
                .replace("deletion:`", "deletion: `"), "allow delete"
        switch = _switched_on(args[k + 1:k + 4]) if _MAINT_RE.search(arg) else 0
        if switch or _MAINT_RE.search(arg) and arg.lower().endswith((":on", "=on", "=true")):
            shown = " ".join(args[k:k + 1 + switch])
            return f"switches maintenance on: `{shown}`", "maintenance"
        if not rows and _TO_ZERO_KEY_RE.match(arg) and \
                (arg.endswith("=0") or re.fullmatch(r"0+", following or "x")):
            return f"stops: `{arg}` set to zero", "zero"
    return None

