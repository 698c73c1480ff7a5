"""Masking is exact however output is cut: across reads, across the 4,096-character line-buffer
flush, in the terminal, the transcript and its spilled side files (real `runbook run` processes)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.outputs import LineBuffer
from runbook_engine.redact import MASK, PREFILTER_MAX, Redactor

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
SECRET = "s3cr3t-Kq8ZpW2vXr"


def run_book(tmp_path: Path, code: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`runbook run --yes` of one step whose ``code`` may print ``$TOKEN`` (a declared secret)."""
    book = tmp_path / "book.md"
    book.write_text("---\nvars:\n  token:\n    secret: true\n---\n\n# Leak\n\n"
                    f"```bash {{#leak}}\nTOKEN={{{{ token | q }}}}\n{code}\n```\n")
    transcript = tmp_path / "t.jsonl"
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                           "--var", f"token={SECRET}", "--transcript", str(transcript)],
                          capture_output=True, text=True, env=ENV, cwd=str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    return done, transcript


def written(tmp_path: Path) -> str:
    """Every file the run left in ``tmp_path`` (the transcript and its side files), as text."""
    return "".join(p.read_text(errors="replace") for p in sorted(tmp_path.iterdir())
                   if p.is_file() and p.name != "book.md")


def shown_output(transcript: Path) -> str:
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    return "".join(e["text"] for e in events if e["event"] == "output")


def test_a_secret_straddling_the_line_buffer_flush_is_masked(tmp_path: Path) -> None:
    # 4,090 characters and the secret's start, a pause, its end: the first read alone is over
    # 4,096 characters, so the line buffer lets the line out inside the secret
    code = 'printf "%04090d%s" 0 "${TOKEN:0:9}"; sleep 0.3; printf "%stail" "${TOKEN:9}"'
    done, transcript = run_book(tmp_path, code)
    assert SECRET not in done.stdout and SECRET[:8] not in done.stdout
    assert SECRET[-8:] not in done.stdout
    assert "0" * 4090 + MASK + "tail" in done.stdout  # every other byte is there, in order
    assert SECRET[:8] not in written(tmp_path) and SECRET[-8:] not in written(tmp_path)
    assert shown_output(transcript) == "0" * 4090 + MASK + "tail"


def test_a_secret_split_across_two_reads_of_a_long_line_is_masked(tmp_path: Path) -> None:
    # one read of 5,000 characters and half the secret, then the other half: the line is longer
    # than the line buffer before the secret ends
    code = ('printf "%05000d%s" 0 "${TOKEN:0:9}"; sleep 0.3; printf "%s%05000d\\n" '
            '"${TOKEN:9}" 0')
    done, transcript = run_book(tmp_path, code)
    assert SECRET[:9] not in done.stdout and SECRET[9:] not in done.stdout
    assert "0" * 5000 + MASK + "0" * 5000 in done.stdout
    assert SECRET[:9] not in written(tmp_path) and SECRET[9:] not in written(tmp_path)


def test_a_secret_split_across_reads_of_a_short_line_is_masked(tmp_path: Path) -> None:
    code = 'printf "%s" "${TOKEN:0:5}"; sleep 0.3; printf "%s\\n" "${TOKEN:5}"'
    done, transcript = run_book(tmp_path, code)
    assert SECRET[:5] not in done.stdout and SECRET[5:] not in done.stdout
    assert shown_output(transcript) == MASK + "\n"


def test_secrets_in_a_spilled_blob_are_masked_in_the_side_file(tmp_path: Path) -> None:
    # 3 MB without a newline, the secret every 4,093 characters (never aligned with a read or a
    # flush): the transcript keeps 1 MB inline and the rest goes to a side file
    code = ('for i in $(seq 750); do printf "%04093d%s" "$i" "$TOKEN"; done')
    done, transcript = run_book(tmp_path, code)
    side_files = [p for p in tmp_path.iterdir() if p.name.endswith(".log")]
    assert side_files, "the blob should have spilled"
    everything = done.stdout + written(tmp_path)
    for piece in (SECRET, SECRET[:6], SECRET[6:12], SECRET[-6:]):
        assert piece not in everything
    assert len(re.findall(r"\d\*{4}", done.stdout)) == 750  # each one, masked in place
    spilled = "".join(p.read_text() for p in side_files)
    assert spilled.count(MASK) + shown_output(transcript).count(MASK) == 750


def test_secrets_across_the_writer_threads_budgets_are_masked_exactly(tmp_path: Path) -> None:
    # ~10 MB without a newline, a secret every 4,093 characters: the text crosses 1 MiB reads and
    # the 4 MiB budgets of the screen's and the side files' writer threads many times; the screen
    # and the transcript (inline, then its side file) each get exactly the masked text, in order
    count = 2400
    done, transcript = run_book(tmp_path, f'for i in $(seq {count}); do printf "%04093d%s" '
                                          '"$i" "$TOKEN"; done')
    expected = "".join(f"{i:04093d}{MASK}" for i in range(1, count + 1))
    assert expected + "\n" in done.stdout
    side = [json.loads(line)["file"] for line in transcript.read_text().splitlines()
            if '"output_spilled"' in line]
    assert shown_output(transcript) + "".join((tmp_path / name).read_text() for name in side) \
        == expected


@pytest.mark.parametrize("extra", [0, PREFILTER_MAX])  # searched for one by one, or not
def test_line_buffer_and_redactor_mask_as_the_whole_text_would(extra: int) -> None:
    # random streams cut at random places: what comes out equals masking the whole at once
    rng = random.Random(15)
    secrets = ["abcabd", "bcab", "xyz", "Zq" * 40, "line1\nline2"]
    redactor = Redactor(secrets + [f"unseen-{n}" for n in range(extra)])
    alphabet = "abcdxyzZq\n"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) if rng.random() > 0.05 else rng.choice(secrets)
                       for _ in range(rng.randrange(1, 600)))
        buffer = LineBuffer(limit=rng.choice([1, 5, 50, 4096]), safe_end=redactor.safe_end)
        pieces: list[str] = []
        at = 0
        while at < len(text):
            step = rng.randrange(1, 40)
            pieces.append(buffer.feed(text[at:at + step]))
            at += step
        pieces.append(buffer.flush())
        assert "".join(pieces) == text  # nothing lost, nothing repeated
        masked = "".join(redactor.redact(p) for p in pieces if p)
        if "line1\nline2" in text:  # lines go out one by one: each line of it is masked
            assert not any(s in masked for s in ["line1", "line2", *secrets[:4]])
        else:
            assert masked == redactor.redact(text)


def test_line_buffer_lets_an_over_long_line_out_without_cutting_a_secret() -> None:
    redactor = Redactor([SECRET])
    buffer = LineBuffer(limit=10, safe_end=redactor.safe_end)
    out = buffer.feed("0123456789" * 3 + SECRET[:5])
    assert out == ("0123456789" * 3 + SECRET[:5])[:-(len(SECRET) - 1)]  # the rest may start it
    out += buffer.feed(SECRET[5:10])
    assert SECRET[:5] not in out
    out += buffer.feed(SECRET[10:] + "!" * 40)
    assert SECRET in out  # let out whole, once it ended
    out += buffer.flush()
    assert redactor.redact(out) == "0123456789" * 3 + MASK + "!" * 40
