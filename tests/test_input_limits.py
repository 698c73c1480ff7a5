"""Big runbooks: a step cap refused while reading, and bounded memory for one huge line or block.

The issue's bound is 10x the input + 100 MB of peak memory for 1 to 8 MB of any shape.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine import danger_args, shell_lex
from runbook_engine.model import LoadError
from runbook_engine.parse import MAX_STEPS, commands, parse_text, reading
from runbook_engine.parse.commands import split_block

MB = 1 << 20
# the CLI in a child that says its own peak RSS last on stderr: VmHWM, its own memory's high
# mark (getrusage's maxrss also counts the test process it was spawned from, hundreds of MB late
# in the suite)
_MEASURED = ("import re, runpy, sys\n"
             "sys.argv = ['runbook', *sys.argv[1:]]\n"
             "try:\n"
             "    runpy.run_module('runbook_engine', run_name='__main__')\n"
             "finally:\n"
             "    with open('/proc/self/status') as status:\n"
             "        peak = int(re.search(r'VmHWM:\\s*(\\d+)', status.read()).group(1)) // 1024\n"
             "    print(f'peak {peak}', file=sys.stderr)\n")


def _plan(book: Path, *args: str) -> tuple[int, str, int]:
    """Exit code, stderr without the peak line, peak RSS in MiB of ``runbook plan``."""
    done = subprocess.run([sys.executable, "-c", _MEASURED, "plan", *args, str(book)],
                          capture_output=True, text=True, timeout=600)
    *rest, last = done.stderr.rstrip("\n").split("\n")
    assert last.startswith("peak "), done.stderr[-500:]
    return done.returncode, "\n".join(rest), int(last.split()[1])


def test_a_runbook_of_more_code_blocks_than_the_cap_is_refused_at_the_first_one_over(
        tmp_path: Path) -> None:
    book = tmp_path / "many.md"
    blocks = "".join(f"```bash\necho {i}\n```\n\n" for i in range(MAX_STEPS + 1))
    book.write_text("# Many\n\n" + blocks, encoding="utf-8")
    code, err, _ = _plan(book)
    assert code == 2
    assert err == f"{book}:{3 + 4 * MAX_STEPS}: more than 10,000 code blocks (the limit: " \
                  "split the runbook)"
    # one block less plans
    book.write_text("# Many\n\n" + blocks[: blocks.rindex("```bash")], encoding="utf-8")
    code, err, _ = _plan(book, "--format", "json")
    assert code == 0, err


def test_8_mb_of_tiny_blocks_is_refused_fast_in_bounded_memory(tmp_path: Path) -> None:
    # 350,000 blocks: ~3 KB a step to plan (1 GB), and markdown-it's tokens before that
    book = tmp_path / "tiny.md"
    with book.open("w", encoding="utf-8") as out:
        out.write("# Tiny\n\n")
        for i in range(8 * MB // 20):
            out.write(f"```bash\necho {i}\n```\n\n")
    code, err, peak = _plan(book, "--format", "json")
    assert code == 2 and "more than 10,000 code blocks" in err
    assert peak < 100, f"peak {peak} MiB"


def test_steps_over_the_cap_across_blocks_are_refused_at_the_first_step_over() -> None:
    blocks = "".join(f"```bash\necho {i}\necho b\necho c\necho d\necho e\n```\n\n"
                     for i in range(MAX_STEPS // 5 + 1))
    with pytest.raises(LoadError, match="more than 10,000 steps") as caught:
        parse_text("# Five\n\n" + blocks, "five.md", "command")
    assert str(caught.value).startswith(f"five.md:{3 + 8 * (MAX_STEPS // 5) + 1}: ")
    # read whole, the same blocks are a step each
    assert len(parse_text("# Five\n\n" + blocks, "five.md", "block").steps) == MAX_STEPS // 5 + 1


def test_one_8_mb_block_of_commands_is_refused_at_its_10001st_command(tmp_path: Path) -> None:
    book = tmp_path / "block.md"
    lines = "".join(f"echo line {i} of the one block\n" for i in range(8 * MB // 30))
    book.write_text(f"# One\n\n```bash\n{lines}```\n", encoding="utf-8")
    code, err, peak = _plan(book, "--format", "json")
    assert code == 2 and err == f"{book}:{4 + MAX_STEPS}: more than 10,000 steps (the limit: " \
                                "split the runbook)"
    assert peak < 10 * 8 + 100, f"peak {peak} MiB"  # was 178 with tree-sitter's trees


def test_one_8_mb_line_of_words_plans_as_one_command_within_the_memory_bound(
        tmp_path: Path) -> None:
    # tree-sitter's tree of 850,000 words took 155 MB, sre's stack for one regex 145 MB, the
    # lexers' caches kept the words (60 MB)
    book = tmp_path / "line.md"
    words = " ".join(f"arg{i}" for i in range(8 * MB // 8))
    book.write_text(f"# Line\n\n```bash\necho {words}\n```\n", encoding="utf-8")
    code, err, peak = _plan(book, "--granularity", "command", "--format", "json")
    assert code == 0, err
    assert peak < 10 * 8 + 100, f"peak {peak} MiB"


def test_a_long_line_of_plain_words_reads_as_tree_sitter_reads_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    line = "echo " + " ".join(f"arg{i}" for i in range(20_000))
    shapes = [line, f"  {line}  ", f"{line}\necho b", f"for {line}", f"{line} {{x,y}}",
              line.replace("arg5 ", "a$b "), f"{{a}} {line}", f"A=1 {line}", f"done {line}"]
    ours = [split_block(code) for code in shapes]
    monkeypatch.setattr(commands, "_WINDOW_BYTES", 1 << 30)  # every line to tree-sitter
    assert ours == [split_block(code) for code in shapes]


_CONF_BEFORE = re.compile(r"^\s*[\w.\-]+(?:\s+[^\s;#]+)+;\s*$|^\s*[\w.\-]+(?:\s+\S+)*\s*\{\s*$"
                          r"|^\s*\}")


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab_.-;#{} \t\x0b:/x\u00a0é", max_size=16))
def test_the_config_line_pattern_matches_as_it_did(text: str) -> None:
    assert bool(reading._CONF_LINE.match(text)) == bool(_CONF_BEFORE.match(text))


def test_a_block_is_judged_by_its_first_lines() -> None:
    rng = random.Random(3)
    commands_ = [f"systemctl restart svc{rng.randint(0, 99)}" for _ in range(300_000)]
    assert reading.read_block("\n".join(commands_)).kind == "commands"
    assert len(reading._content_lines("\n".join(commands_))) == reading._READ_LINES


def test_a_command_ending_in_a_megabyte_of_braces_plans_within_the_memory_bound(
        tmp_path: Path) -> None:
    # a fuzzed input: tree-sitter read the line twice (as a `{` opener, then as the command),
    # and two lexers' patterns kept a frame per character of the word (450 MB)
    book = tmp_path / "braces.md"
    book.write_text("# B\n\n```bash\naws secretsmanager delete-secret --force" + "{" * MB
                    + "\n```\n", encoding="utf-8")
    code, err, peak = _plan(book, "--format", "json")
    assert code == 0, err
    assert peak < 10 + 100, f"peak {peak} MiB"


_LEX_WORD_BEFORE = r"""(?:\\.|'[^']*'?|\"(?:[^\"\\]|\\.)*\"?|\$(?!\()|[^\s;&|()<>`\\'\"$])+"""
_ARGS_WORD_BEFORE = r"""(?:[^\s'"\\]|\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?)+"""


def _tokens(pattern: re.Pattern[str], text: str) -> list[tuple[str | None, str]]:
    out, pos = [], 0
    while pos < len(text) and (m := pattern.match(text, pos)) is not None and m.end() > pos:
        out.append((m.lastgroup, m.group()))
        pos = m.end()
    return out


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab {}'\"\\$()<>;&|`#\n\t", max_size=20))
def test_the_possessive_word_patterns_split_as_before(text: str) -> None:
    assert [m.group() for m in danger_args._WORD_RE.finditer(text)] == \
        [m.group() for m in re.finditer(_ARGS_WORD_BEFORE, text)]
    lex = shell_lex._LEX_RE.pattern
    inner = lex[lex.index("(?P<word>") + 9:lex.index(")|(?P<other>")]
    before = re.compile(lex.replace(inner, _LEX_WORD_BEFORE), re.DOTALL)
    assert before.pattern != lex
    assert _tokens(shell_lex._LEX_RE, text) == _tokens(before, text)
