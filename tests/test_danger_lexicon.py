"""The last look (issue 9): a destructive verb in any verb place of a command no rule flagged,
and the reading shapes it leaves alone."""

from __future__ import annotations

import shlex

import pytest

from runbook_engine.danger import danger_reasons
from runbook_engine.danger_lexicon import FORMS, console_finding, lexicon_finding, parts

# (code, the word the reason must name): tools no row knows, each verb in another place
FIRES: list[tuple[str, str]] = [
    ("acmectl node decommission n3", "decommission"),  # a subcommand
    ("qmgrtool -x --purge-queue Q1", "purge"),  # an option's name
    ("svcadm2 -function ShutdownAll", "shutdown"),  # an option's value, camelCase
    ("cfgtool resource svc ensure=stopped", "stop"),  # a setting's value, inflected
    ("wipe-scratch.sh /srv/tmp", "wipe"),  # the program's name
    ("dltlib MYLIB", "dlt"),  # IBM's verb prefix
    ("clrqueue Q1", "clr"),
    ("fleetctl ps:scale worker=0", "scale"),  # scaled to zero
    ("hanautil -sr_failover", "failover"),  # a single-dash compound
    ("appctl release rollback v12", "rollback"),
    ("vpnctl session kick alice", "kick"),
    ("clusteradm removenode n4", "remove"),  # a verb glued to its object
    ("virtctl net-undefine lab", "undefine"),
    ("pgctl fencing on db-1", "fence"),  # a gerund subcommand
]

# commands that read, rehearse or undo: the lexicon must stay quiet
QUIET: list[str] = [
    "grep -r delete /etc/app",
    "echo 'stop the world'",
    "acmectl describe delete-policy",
    "acmectl list --deleted",
    "acmectl node decommission n3 --dry-run",
    "acmectl node decommission --help",
    "acmectl node decommission n3 status",
    "acmectl ok-to-stop osd.3",
    "acmectl fencing off db-1",
    "Where-Object DisconnectReason -ne $null",
    "Get-ClusterGroup -Name SQL",
    "toolx --log-level=off run",  # a value that is a weak word
    "toolx events --filter event=destroy",  # a selector
    "Set-Thing -IsOffline $false",  # an option switched off
    "fleetctl ps:scale worker=3",
    "toolx copy notes.txt delete",  # an operand
    "toolx run --message 'then delete it'",
    "acmectl vm-list power-state=halted",
    "toolx sync --no-delete-source a b",  # negated or kept
    "toolx run --keep-reset-counters",
    "backupd run --delete-after=7d",  # a setting of the verb
    "toolx run --flush-interval=5s",
    "toolx kv undelete app/key",  # un- undoes the glued verb
    "show-purge-candidates.sh",  # a reading program name
    "CLOSED --failures-5--> OPEN",  # a state in a diagram, not a verb
    "toolx list --deleted",
]


@pytest.mark.parametrize(("code", "word"), FIRES)
def test_lexicon_names_the_word_it_found(code: str, word: str) -> None:
    reasons = danger_reasons(code)
    assert reasons, code
    assert any(f"(the word {word})" in r or word in r.lower() for r in reasons), reasons


@pytest.mark.parametrize("code", QUIET)
def test_reading_shapes_stay_quiet(code: str) -> None:
    words = shlex.split(code)
    quoted = [not w.replace("-", "").isalnum() and " " in w for w in words[1:]]
    assert lexicon_finding(words[0], words[1:], quoted) is None, code


@pytest.mark.parametrize("code", [c for c in QUIET if "event=" not in c and "ok-to" not in c
                                  and "notes.txt" not in c and "show-" not in c])
def test_reading_shapes_are_safe_steps(code: str) -> None:
    # the whole analysis agrees (older generic rules read the four left out their own way)
    assert danger_reasons(code) == [], code


def test_reason_text_names_program_and_word() -> None:
    found = lexicon_finding("acmectl", ["node", "decommission", "n3"])
    assert found == ("deletes: `acmectl node decommission` (the word decommission)",
                     "decommission")
    assert lexicon_finding("endmqm", ["-i", "QM1"]) == ("stops: `endmqm` (the word end)", "end")


def test_console_lines_first_word() -> None:
    found = console_finding("STOP CHANNEL(TO.QM2)")
    assert found is not None and "(the word stop)" in found[0]
    assert console_finding("END") is None and console_finding("DISPLAY QLOCAL(Q)") is None


def test_tools_with_rows_keep_their_options_and_names() -> None:
    # docker has rows: its options are theirs to judge; kill's name is its rows' to judge
    assert lexicon_finding("docker", ["compose", "up", "--remove-orphans"], rows=frozenset()) \
        is None
    assert lexicon_finding("kill", ["-TSTP", "42"], rows=frozenset()) is None
    assert lexicon_finding("lxc", ["image", "purge", "x"], rows=frozenset()) is not None


def test_tools_with_rows_keep_their_lookalikes() -> None:
    # rows decide these words for their tools: the lexicon does not second-guess them
    assert danger_reasons("systemctl reset-failed nginx") == []
    assert danger_reasons("sudo kill -TSTP 4242") == []
    assert danger_reasons("vault kv rollback -version=2 secret/app") == []


def test_parts_and_inflections() -> None:
    assert parts("StopSystem") == ["stop", "system"]
    assert parts("-sr_takeover") == ["sr", "takeover"]
    assert parts("ps:scale") == ["ps", "scale"]
    assert FORMS["stopped"] == "stop" and FORMS["deleting"] == "delete"
    assert FORMS["dropped"] == "drop" and FORMS["purged"] == "purge"
