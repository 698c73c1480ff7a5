"""Damaged shell in a block is read in linear time; well-formed shell is read as before."""

from __future__ import annotations

import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.parse import commands, lines
from runbook_engine.parse.commands import split_block

# pieces of broken shell: unclosed groups, substitutions and quotes, keywords out of place
_DAMAGE = ["|||", "((((", "fi", ";;", "esac", "echo hi", "done", "then", "do", "}", ")", "if",
           "case x in", "&&", "$(", "ls -la", "for i in 1 2", "while true", "{", "(", "else",
           "'", '"', "`"]


def _damaged_block(size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choice(_DAMAGE) for _ in range(rng.randint(1, 3)))
        out.append(line)
        total += len(line) + 1
    return "\n".join(out)


def _plan_cpu(book: Path, *args: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", *args, str(book)],
                          capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode in (0, 1), done.stderr[-500:]
    assert "Traceback" not in done.stderr
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def test_a_block_of_damaged_shell_lines_plans_in_linear_time(tmp_path: Path) -> None:
    # each error cost a re-parse of its 200-line window and each unclosed `$(` or quote a lexing
    # to the end of the block: 250 KB took minutes
    book = tmp_path / "damaged.md"
    book.write_text("# Damaged\n\n```bash\n" + _damaged_block(250_000) + "\n```\n",
                    encoding="utf-8")
    cpu = _plan_cpu(book, "--format", "json")
    assert cpu < 6, f"took {cpu:.1f} s of CPU"


def test_an_expected_output_region_of_many_comment_lines_is_read_in_linear_time(
        tmp_path: Path) -> None:
    # each comment line looked back over every line of the region before it
    book = tmp_path / "expected.md"
    body = "# line of output\n" * 150_000
    book.write_text(f"# E\n\n```bash\necho hi\n# Expected output:\n{body}```\n", encoding="utf-8")
    assert _plan_cpu(book) < 6


def test_a_block_tree_sitter_reads_slowly_pays_its_time_limit_a_few_times(tmp_path: Path) -> None:
    # a 10 KB line tree-sitter reads at ~4 us a byte, then lines whose error it signals only at
    # the window's end: each re-parse, one line shorter, read the slow line again (fuzz: 2.4 s)
    slow = "- [link](http://x) <div> Then {% if " + "x[" * 5000 + "1 }}"
    lines = [f"- [link](http://x) `inline {{{{ x }}}}` {i}" for i in range(150)]
    block = "```bash\necho one\necho two\n" + "\n".join([slow, *lines]) + "\n```\n\n"
    book = tmp_path / "slow.md"
    book.write_text("# Slow\n\n" + block * 5, encoding="utf-8")
    cpu = _plan_cpu(book, "--format", "json")
    assert cpu < 2.5, f"took {cpu:.1f} s of CPU"


def test_text_read_just_under_the_slow_pace_spends_a_bounded_time() -> None:
    # an unclosed fence swallowing a long page of nested list items (the 100,000-input fuzz run,
    # 2026-12-03, made by bench/fuzz_grammar.py): tree-sitter reads its windows at ~1 us a byte,
    # just under the old per-parse threshold, re-parsing one unit shorter after each error at the
    # window's end: 96 parses, 1.1-2.4 s, the cut decided by the machine's speed of the moment
    import gc

    code = (Path(__file__).parent / "fixtures" / "fuzz-slow-block.txt").read_text(encoding="utf-8")
    cpus = []
    for _ in range(3):
        gc.collect()
        gc.disable()  # the suite's heap is large: a full collection in the middle is not ours
        try:
            started = time.thread_time()
            frags = split_block(code)
            cpus.append(time.thread_time() - started)
        finally:
            gc.enable()
        # wherever the cut falls, the page of list items is read as prose: nothing to run
        assert {f.kind for f in frags} == {"doc"}
    # alone 0.3-0.7 s (the old code 2.1-2.4 s, or 0.3-1.1 s when the machine's speed cut it
    # early); at the end of a whole suite on a clean clone, 1.1-1.3 s
    assert sorted(cpus)[1] < 1.6, f"took {sorted(cpus)[1]:.2f} s of CPU (median of 3)"


def test_a_pass_spends_its_slow_time_in_all_its_parses_not_per_parse() -> None:
    meter = lines.Meter(1 << 20, slow_s=0.1)
    meter.slow(0.06)  # one slow parse within the allowance
    with pytest.raises(lines.OverBudget):
        meter.slow(0.05)  # and the next: the sum is over it, though each alone is not


def test_a_huge_paragraph_with_many_brackets_renders_as_its_text(tmp_path: Path) -> None:
    # markdown-it looked for each `[`'s closing `]` to the paragraph's end (fuzz: 805 KB, 4 s)
    book = tmp_path / "brackets.md"
    book.write_text("# Brackets\n\n" + "[" * 300 + "<b>" + "{" * 800_000 + "\n", encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", "--format", "html",
                           str(book)], capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-500:]
    assert "[" * 300 + "&lt;b&gt;" + "{" * 1000 in done.stdout  # shown as text, escaped
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert cpu < 2.5, f"took {cpu:.1f} s of CPU"


def test_a_block_past_its_work_budget_keeps_what_it_read_and_the_rest_is_one_doc() -> None:
    code = "echo first\necho second\n" + _damaged_block(60_000)
    frags = split_block(code)
    assert [f.code for f in frags[:2]] == ["echo first", "echo second"]
    last = frags[-1]
    assert last.kind == "doc" and code.endswith(last.code.rsplit("\n", 1)[-1])
    assert len(frags) < len(code.split("\n")) // 4  # the rest was not read line by line


def test_well_formed_blocks_stay_well_within_the_budget() -> None:
    # the costliest well-formed shape: every line opens a compound read with a small parse
    code = "\n".join(f"if test -e /f{i}; then echo {i}; fi" for i in range(5_000))
    masked = code.split("\n")
    scan, parse = commands._meter(code), commands._meter(code)
    items = commands._scan(masked, masked, scan)
    commands._expand(items, masked, masked, parse)
    for meter in (scan, parse):
        assert commands._meter(code).left - meter.left < 16 * len(code)
    assert [f.kind for f in split_block(code)] == ["command"] * 5_000


def test_errors_close_together_do_not_change_the_commands_around_them() -> None:
    good = [f"systemctl restart svc{i}" for i in range(300)]
    mixed = [x for i, cmd in enumerate(good) for x in ([cmd, ")"] if i % 7 == 0 else [cmd])]
    frags = split_block("\n".join(mixed))
    assert [f.code for f in frags if f.kind == "command"] == good
    assert [f.code for f in frags if f.kind == "doc"] == [")"] * len(range(0, 300, 7))


# ---------------------------------------------------------------- the lexer's jumps


def _scan_chars_by_char(line: str, stack: list[str]) -> tuple[bool, list[str]]:
    """The lexer as it was: stopping at every character (the reference for the jumping one)."""
    every = re.compile(".", re.DOTALL)
    with mock.patch.object(lines, "_IN_CODE", every), \
            mock.patch.object(lines, "_NEXT", {"'": every, '"': every}):
        return lines._scan_chars(line, stack)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="ab #'\"\\`$()<-|&;\t", max_size=16), max_size=4),
       st.lists(st.sampled_from(["'", '"', "`", "$(", "("]), max_size=3))
def test_the_lexer_jumping_between_special_characters_reads_as_the_one_reading_each(
        text: list[str], stack: list[str]) -> None:
    ours, theirs = list(stack), list(stack)
    for line in text:
        assert lines._scan_chars(line, ours) == _scan_chars_by_char(line, theirs)
        assert ours == theirs


def test_thousands_of_unclosed_substitutions_are_lexed_in_linear_time() -> None:
    # each unclosed `$(` was looked up in the list of finished commands (a fuzz input of
    # 300 KB: 2.95 s CPU for `list`); 20,000 of them took minutes
    from runbook_engine.shell_lex import commands as lex_commands
    started = time.process_time()
    found = lex_commands("x $(a; " * 20_000)  # each `$(` unclosed behind a command with words
    assert len(found) == 40_000
    assert time.process_time() - started < 2


def test_parsing_again_and_again_keeps_no_source_alive() -> None:
    # py-tree-sitter keeps every object the read callback returns: views of each source kept
    # every source alive (a process planning again and again, as `serve` does, grew by all of it)
    import gc
    import tracemalloc

    code = "\n".join(f"kubectl -n prod rollout restart deploy/web-{i} && echo ok {i}"
                     for i in range(600)).encode()  # ~40 KB
    commands._parse(code, lines.Meter(1 << 30, 10.0))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100):
            commands._parse(code + b"\necho %d" % i, lines.Meter(1 << 30, 10.0))  # a new source
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, f"grew by {grown:,} bytes over 100 parses of 40 KB"
