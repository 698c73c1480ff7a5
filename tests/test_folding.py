"""Folded host lists, outputs grouped by host with a diff for the odd ones, --limit patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.folding import compact_diff, fold_names, fold_outputs, fold_rows
from runbook_engine.hostpattern import select_hosts, split_pattern
from runbook_engine.model import UsageError


def test_names_fold_into_ranges_keeping_padding_and_order() -> None:
    assert fold_names([f"lab{i}" for i in range(1, 21)]) == "lab[1-20]"
    assert fold_names(["web01", "web02", "web03", "db1"]) == "web[01-03],db1"
    assert fold_names(["web09", "web10", "web11"]) == "web[09-11]"
    assert fold_names(["web1", "web3", "web4", "web3"]) == "web[1,3-4]"
    assert fold_names(["n1.dc", "n2.dc", "n1.ec"]) == "n[1-2].dc,n1.ec"
    assert fold_names(["alpha", "db1"]) == "alpha,db1"
    assert fold_names([]) == ""


def test_outputs_fold_with_a_majority_and_the_odd_host() -> None:
    folds, majority = fold_outputs({"web1": "same", "web2": "same", "web3": "odd",
                                    "web4": "same"})
    assert majority is not None and majority.label == "web[1-2,4]"
    assert [(f.label, f.odd) for f in folds] == [("web[1-2,4]", False), ("web3", True)]


def test_outputs_all_different_or_tied_have_no_majority() -> None:
    folds, majority = fold_outputs({"a1": "x", "a2": "y", "a3": "z"})
    assert majority is None and not any(f.odd for f in folds) and len(folds) == 3
    _, tied = fold_outputs({"a1": "x", "a2": "x", "a3": "y", "a4": "y"})
    assert tied is None
    (one,), alone = fold_outputs({"a1": "x", "a2": "x"})
    assert alone == one and one.hosts == ("a1", "a2")


def test_compact_diff_shows_changed_lines_with_one_line_of_context() -> None:
    majority = [f"line {i}" for i in range(20)]
    other = list(majority)
    other[3], other[15] = "changed 3", "changed 15"
    diff = compact_diff(majority, other)
    assert diff == ["  line 2", "- line 3", "+ changed 3", "  line 4", "…",
                    "  line 14", "- line 15", "+ changed 15", "  line 16"]
    long = compact_diff(majority, [f"other {i}" for i in range(20)], limit=10)
    assert len(long) == 11 and long[-1] == "… 30 more changed lines"


def test_grid_rows_fold_hosts_with_the_same_results() -> None:
    rows = {"web1": ("ok", "ok"), "web2": ("ok", "failed"), "web3": ("ok", "ok")}
    assert fold_rows(rows) == [("web[1,3]", ("ok", "ok")), ("web2", ("ok", "failed"))]


HOSTS = ["web1", "web2", "web3", "db1", "db2", "cache-a"]
GROUPS = {"web": ["web1", "web2", "web3"], "db": ["db1", "db2"], "prod": ["web1", "db1"]}


@pytest.mark.parametrize(("pattern", "expected"), [
    ("web2", ["web2"]),
    ("web", ["web1", "web2", "web3"]),
    ("web:db", ["web1", "web2", "web3", "db1", "db2"]),
    ("web,db1", ["web1", "web2", "web3", "db1"]),
    ("web:!web2", ["web1", "web3"]),
    ("web:&prod", ["web1"]),
    ("all:!web", ["db1", "db2", "cache-a"]),
    ("!db", ["web1", "web2", "web3", "cache-a"]),
    ("*", HOSTS),
    ("web*", ["web1", "web2", "web3"]),
    ("d?", ["db1", "db2"]),  # a glob matches group names too
    ("~^(web|db)1$", ["web1", "db1"]),
    ("nosuch", []),
])
def test_ansible_patterns(pattern: str, expected: list[str]) -> None:
    assert select_hosts(pattern, HOSTS, GROUPS) == expected


def test_pattern_file_is_one_term_a_line(tmp_path: Path) -> None:
    retry = tmp_path / "failed.retry"
    retry.write_text("# hosts that failed\nweb2\ndb1\n")
    assert select_hosts(f"@{retry}", HOSTS, GROUPS) == ["web2", "db1"]
    assert select_hosts(f"web,!@{retry}", HOSTS, GROUPS) == ["web1", "web3"]
    with pytest.raises(UsageError, match="nosuch.retry"):
        select_hosts(f"@{tmp_path}/nosuch.retry", HOSTS, GROUPS)


def test_bad_patterns_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="empty"):
        select_hosts(" , ", HOSTS, GROUPS)
    with pytest.raises(UsageError, match="regular expression"):
        select_hosts("~(", HOSTS, GROUPS)
    assert split_pattern("a:b") == ["a", "b"] and split_pattern("u@h:22,b") == ["u@h:22", "b"]


def test_a_line_in_pieces_folds_as_one_line() -> None:
    from runbook_engine.ui.fleet import HostOutputs

    outputs = HostOutputs("s", ["web1", "web2"])
    outputs.add("web1", "stdout", "a" * 5)
    outputs.add("web1", "stdout", "b" * 5 + "\nend\n")
    outputs.add("web2", "stdout", "aaaaabbbbb\nend")  # its last line without a newline
    assert [line.plain for line in outputs.folded()] == ["web[1-2] (2 hosts):", "  aaaaabbbbb",
                                                         "  end"]
