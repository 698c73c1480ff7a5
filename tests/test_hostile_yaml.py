"""Hostile YAML and regexes from runbooks: bounded by size, depth and time, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook_engine import regexes, yamlsafe
from runbook_engine.inventory import load_inventory
from runbook_engine.model import LoadError
from runbook_engine.parse import parse_text
from runbook_engine.render import plan_document, plan_json
from runbook_engine.variables import initial_variables

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb"}


def _laughs(levels: int, width: int, indent: str = "") -> list[str]:
    """Aliases of aliases: ``width ** levels`` items from ``levels * width`` aliases."""
    lines = [f"{indent}l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"{indent}l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width)
                     + "]")
    return lines


def test_a_few_aliases_that_expand_hugely_are_refused_by_size() -> None:
    # 48 aliases (under the old cap of 50) that would expand to 10 ** 6 items
    text = "\n".join(["---", "vars:", *_laughs(7, 8, "  "), "---", "# T", ""])
    started = time.monotonic()
    with pytest.raises(LoadError, match="expands to more than") as caught:
        parse_text(text, "bomb.md")
    assert time.monotonic() - started < 2
    assert caught.value.line is not None and caught.value.line > 1


def test_an_inventory_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(["all:", "  vars:", *_laughs(9, 9, "    "),
                               "  hosts: {web1: {}}", ""]))
    with pytest.raises(LoadError):
        load_inventory(str(path))


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a: " * 3000 + "1" + "}" * 3000])
def test_deep_nesting_fails_fast_with_one_line(value: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(LoadError, match="nested deeper than 100 levels"):
        parse_text(f"---\nvars:\n  x: {value}\n---\n# T\n", "deep.md")
    inventory = tmp_path / "deep.yml"
    inventory.write_text(f"all:\n  vars:\n    x: {value}\n")
    with pytest.raises(LoadError):  # one line (the inventory reader words it its own way)
        load_inventory(str(inventory))
    assert time.monotonic() - started < 3  # was 18 s


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(LoadError, match="its own anchor"):
        parse_text("---\nvars:\n  x: &a [1, *a]\n---\n# T\n", "self.md")


def test_ordinary_aliases_and_merge_keys_still_work() -> None:
    book = parse_text("---\ndefaults: &d {timeout: 5}\nvars:\n  a: &v hello\n  b: *v\n"
                      "hosts:\n  web: [{<<: *d, host: w1}]\n---\n# T\n\n```bash\necho\n```\n")
    assert {v.name: v.default for v in book.vars} == {"a": "hello", "b": "hello"}


def test_dates_binary_sets_and_pairs_in_vars_plan_as_json() -> None:
    book = parse_text("---\nvars:\n  d: 2024-01-01\n  t: 2024-01-01T10:00:00Z\n"
                      "  b: !!binary aGVsbG8=\n  s: !!set {b, a}\n  o: !!omap [x: 1, y: 2]\n"
                      "---\n# T\n\n```bash {id=s}\necho {{ d }} {{ b }} {{ s }}\n```\n", "t.md")
    from runbook_engine.graph import build_graph

    variables = initial_variables(book, {}, {})
    doc = plan_document(build_graph(book), list(book.steps), variables)
    shown = {v["name"]: v["value"] for v in json.loads(plan_json(doc))["variables"]}
    assert shown["d"] == "2024-01-01" and shown["t"].startswith("2024-01-01T10:00:00")
    assert shown["b"] == "hello" and shown["s"] == ["a", "b"]
    assert shown["o"] == [["x", 1], ["y", 2]]


def test_tagged_values_that_cannot_be_built_are_one_line() -> None:
    for value in ("!!bool maybe", "!!int x", "!!timestamp 2020-02-30",
                  "!!python/object/apply:os.system ['true']"):
        with pytest.raises(LoadError, match=r"front matter"):
            parse_text(f"---\nvars:\n  x: {value}\n---\n# T\n", "tag.md")


def test_plain_keeps_shared_parts_shared() -> None:
    inner = [1, 2]
    converted = yamlsafe.plain({"a": inner, "b": inner, "c": {1, 2}})
    assert converted["a"] is converted["b"] and converted["c"] == [1, 2]


# ---------------------------------------------------------------- regexes with a deadline


def test_a_backtracking_pattern_is_stopped_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(regexes.PatternTimeout, match="takes too long"):
        regexes.search("(a+)+$", "a" * 40 + "!", whole=True, seconds=0.5)
    assert time.monotonic() - started < 2


def test_search_answers_like_re() -> None:
    assert regexes.search(r"v(\d+)", "x v12 y") == "12"
    assert regexes.search(r"v\d+", "x v12 y") == "v12"
    assert regexes.search(r"v(\d*)", "v") == ""
    assert regexes.search(r"a|b", "zzz") is None
    assert regexes.search(r"ab", "xaby") == "ab"  # literal: matched here
    assert regexes.search(r"[a-z]+", "abc", whole=True) == "abc"
    assert regexes.search(r"^b", "a\nb", regexes.re.M) == "b"
    with pytest.raises(regexes.re.error):
        regexes.search("(", "x")


def _cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout, check=False)


def test_a_hanging_variable_pattern_is_one_line_at_plan(tmp_path: Path) -> None:
    book = tmp_path / "pat.md"
    book.write_text("---\nvars:\n  x:\n    pattern: '(a+)+$'\n    default: '" + "a" * 40
                    + "!'\n---\n# T\n\n```bash\necho {{ x }}\n```\n")
    done = _cli("plan", str(book), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{book}:3: variable 'x': regular expression '(a+)+$' takes too long to match "
        "(over 1 s; it backtracks: simplify it) from the default"]


def test_hanging_expect_and_extract_fail_the_step_not_the_run(tmp_path: Path) -> None:
    book = tmp_path / "run.md"
    book.write_text("# T\n\n```bash {id=ex expect='(a+)+$' continue_on_error}\n"
                    "printf 'a%.0s' $(seq 40); echo '!'\n```\n\n"
                    "```bash {id=cap capture=v extract='(x+x+)+y'}\n"
                    "printf 'x%.0s' $(seq 40); echo\n```\n")
    started = time.monotonic()
    done = _cli("run", "--yes", str(book), "--transcript", str(tmp_path / "t.jsonl"),
                cwd=tmp_path)
    assert time.monotonic() - started < 30
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "takes too long to match" in done.stdout + done.stderr
