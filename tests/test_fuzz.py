"""The fuzzer as a test: a short seeded run of bench/fuzz.py, and hypothesis driving its grammar.

Anything but the project's own error (one line, exit 1 or 2) out of plan, lint, list,
transcript or the --resume preparation is a crash; so is an input over 2 s of CPU.
"""

from __future__ import annotations

import json
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz, fuzz_grammar

# which crash classes the run found, and a minimised input for each, if this ever fails
_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _alarm() -> None:
    signal.signal(signal.SIGPROF, fuzz._alarm)


def test_a_short_seeded_fuzz_run_finds_no_crash_and_nothing_slow() -> None:
    report = fuzz.fuzz(seed=20261202, count=300, time_limit=20, minimise_s=0)
    found = [f"{c.key} [{' '.join(c.target)}]: {c.message}; input {c.data[:200]!r}"
             for c in report.crashes.values()]
    assert found == []
    assert [(round(cpu, 2), target) for cpu, _, target, _ in report.slow] == []
    assert report.inputs >= 50  # it really ran (under load it may not reach 400 in 25 s)
    assert report.kinds.get("runbook") and report.kinds.get("transcript")


def _check(tmp_path: Path, data: bytes, args: list[str], name: str = "book.md") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    exc = fuzz.call([*args, str(path)])
    assert exc is None, f"{fuzz.classify(exc)[0]}: {exc!r}"


@_SETTINGS
@given(rng=st.randoms(use_true_random=False),
       args=st.sampled_from(fuzz.RUNBOOK_ARGS))
def test_generated_runbooks_plan_lint_and_list_without_crashing(
        tmp_path_factory: pytest.TempPathFactory, rng: random.Random, args: list[str]) -> None:
    _check(tmp_path_factory.mktemp("book"), fuzz_grammar.runbook_bytes(rng), args)


@_SETTINGS
@given(text=st.text(max_size=400), args=st.sampled_from(fuzz.RUNBOOK_ARGS[:6]))
def test_arbitrary_text_plans_without_crashing(tmp_path_factory: pytest.TempPathFactory,
                                                text: str, args: list[str]) -> None:
    _check(tmp_path_factory.mktemp("text"), text.encode("utf-8", "surrogatepass"), args)


@pytest.fixture(scope="module")
def seed_transcript(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    seeds = fuzz._seed_transcripts(tmp_path_factory.mktemp("seed"))
    assert seeds and b'"run_finished"' in seeds[0]
    return seeds[0]


@_SETTINGS
@given(rng=st.randoms(use_true_random=False),
       fmt=st.sampled_from(fuzz.TRANSCRIPT_FORMATS))
def test_corrupted_transcripts_report_and_resume_without_crashing(
        tmp_path_factory: pytest.TempPathFactory, seed_transcript: bytes,
        rng: random.Random, fmt: str) -> None:
    tmp_path = tmp_path_factory.mktemp("transcript")
    data = fuzz_grammar.corrupt_transcript(rng, seed_transcript)
    (tmp_path / "book.md").write_text(fuzz.SEED_BOOK, encoding="utf-8")
    _check(tmp_path, data, ["transcript", "--format", fmt], "t.jsonl")
    exc = fuzz.call(["resume", str(tmp_path / "book.md"), str(tmp_path / "t.jsonl")])
    assert exc is None, f"{fuzz.classify(exc)[0]}: {exc!r}"


def test_wrong_typed_fields_in_every_event_are_read_or_refused(
        tmp_path: Path, seed_transcript: bytes) -> None:
    """Each field of each event set to each JSON type in turn: never a crash."""
    (tmp_path / "book.md").write_text(fuzz.SEED_BOOK, encoding="utf-8")
    lines = seed_transcript.decode().splitlines()
    kinds: set[str] = set()
    for number, line in enumerate(lines):
        event = json.loads(line)
        if event["event"] in kinds:
            continue  # one event of each kind
        kinds.add(event["event"])
        for key in event:
            for value in (None, [], {"a": 1}, "x", 2**70, -1.5):
                damaged = dict(event, **{key: value})
                text = "\n".join([*lines[:number], json.dumps(damaged), *lines[number + 1:]])
                _check(tmp_path, text.encode() + b"\n", ["transcript", "--format", "json"],
                       "t.jsonl")


# The slow inputs of the seeded run (bench/RESULTS.md, "Fuzz"), rebuilt: each scanned to the end
# of the text once per opener (a regex `.*?` or `[^]]*`, shlex's `token += char`, an overlap
# check against every span, a did-you-mean per unknown name); each took 3 s to minutes before.
_SLOW_SHAPES = {
    "link brackets in a heading": "# see " + "[x" * 30_000 + "\n\n```bash\necho hi\n```\n",
    "emphasis openers in prose": "# E\n\nRestart " + "*a " * 20_000 + "\n\n```bash\necho hi\n```\n",
    "unknown attributes": "# A\n\n<!-- runbook: " + "a " * 200_000 + "-->\n```bash\necho hi\n```\n",
    "one long ssh word": "# W\n\n```bash\nssh dep" + "{" * 400_000 + "loy@host uptime\n```\n",
    "template openers": "# T\n\n```bash\necho " + "{{" * 100_000 + "\n```\n",
    # tree-sitter reads this line at ~1.4 us a byte: it was parsed four times (the loop's window
    # and the block's, each again before the error two lines on)
    "a slow line after a loop": "# L\n\n```bash\nfor i in 1 2; do echo $i; done\nout"
                                + "{" * 500_000 + "\necho a\nfi )\necho c\n```\n",
    # the 100,000-input run (2026-12-03): read twice by tree-sitter, as a `{` opener and as the
    # command, and lexed with a frame kept per character
    "a command ending in a megabyte of braces": "# B\n\n```bash\naws x delete-secret --force"
                                                + "{" * 1_000_000 + "\n```\n",
}


@pytest.mark.parametrize("shape", sorted(_SLOW_SHAPES))
def test_the_slow_inputs_of_the_seeded_run_plan_and_lint_in_linear_time(
        tmp_path: Path, shape: str) -> None:
    book = tmp_path / "book.md"
    book.write_text(_SLOW_SHAPES[shape], encoding="utf-8")
    for args in (["plan", "--format", "html"], ["lint", "--granularity", "command"]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "runbook_engine", *args, str(book)],
                              capture_output=True, text=True, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode in (0, 1), done.stderr[-500:]
        assert "Traceback" not in done.stderr
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        assert cpu < 3, f"{shape}: {' '.join(args)} took {cpu:.1f} s of CPU"
