"""Output blocks that say what the command above prints: "Expected response:" and its block.

A runbook often shows a command in one block and, right after it, what the command prints in
another, introduced by prose ("You should see:", "Expected response:") or by a heading of its own
("#### Example output"). That block stays a documentation step (it is shown, never run) and
becomes the expected output of the command right before it, which is then compared with what the
command really printed. Prose that shows a failure ("If it fails you will see:") or a possibility
("you may see") introduces no expectation.
"""

from __future__ import annotations

import re
from typing import Any

from .. import lazyre
from .reading import last_sentence

#: prose (its last sentence) that introduces what the command above prints
EXPECTATION_CUES = lazyre.compile(
    r"\b(?:expected|example|sample|typical)\s+(?:output|response|result|reply|answer)s?\b"
    r"|\byou\s+should\s+(?:now\s+)?(?:see|get|receive)\b"
    r"|\b(?:should|will)\s+(?:now\s+)?(?:show|print|return|output|respond|answer|display"
    r"|look\s+like)\b"
    r"|\b(?:output|response|result|answer|reply)\s*(?:looks?\s+like|should\s+(?:be|look\s+like)"
    r"|will\s+be|is)?\s*:\s*$"
    r"|\b(?:returns?|prints?|outputs?|responds?(?:\s+with)?|answers?(?:\s+with)?)"
    r"\s*(?:something\s+like)?\s*:\s*$"
    r"|\b(?:looks?|should\s+look)\s+(?:something\s+|roughly\s+|more\s+or\s+less\s+)?like"
    r"(?:\s+th(?:is|ese|at))?\s*:\s*$|\bsimilar\s+to\s+th(?:is|ese)\s*:\s*$",
    re.IGNORECASE,
)
#: prose that shows a failure or a mere possibility: not what the command should print
NOT_EXPECTED = lazyre.compile(
    r"\b(?:if|when|unless)\b[^.]*\b(?:fail\w*|error\w*|wrong|broken|down|cannot|can't|not)\b"
    r"|\b(?:error|failure|symptom|problem|broken|wrong|bad)s?\b"
    r"|\b(?:might|may|could)\s+(?:see|get|show|print|return)\b",
    re.IGNORECASE,
)
#: the prose or heading says the block is an example of the output, not all of it
SAMPLE_CUES = lazyre.compile(
    r"\b(?:example|sample|typical|excerpt|truncated|abridged|similar\s+to|something\s+like"
    r"|such\s+as|e\.g\.|for\s+instance|among\s+others|part\s+of)\b",
    re.IGNORECASE,
)
#: a heading of its own for the output block ("Expected output", "Example response")
OUTPUT_HEADING = lazyre.compile(
    r"^(?:(?:the\s+)?(?:expected|example|sample|typical)\s+)?(?:output|response|result|reply)s?"
    r"\s*:?$",
    re.IGNORECASE,
)
_RUNS = frozenset({"shell", "engine"})


def attach_output_blocks(steps: list[dict[str, Any]]) -> None:
    """Give the command before each introduced output block that block as expected output."""
    for before, step in zip(steps, steps[1:], strict=False):
        if before.get("kind") not in _RUNS or before.get("expected_output"):
            continue
        if step.get("kind") != "doc" or step.get("parent") or not str(step.get("code")).strip():
            continue  # only a whole block of its own (not a region read inside a block)
        cue = _cue(step, tuple(before.get("section") or ()))
        if cue is None:
            continue
        before["expected_output"] = str(step["code"]).strip("\n")
        before["expected_from"] = "output block"
        before["expected_sample"] = bool(SAMPLE_CUES.search(cue))


def _cue(step: dict[str, Any], section: tuple[str, ...]) -> str | None:
    """The words that introduce the block as output of the command above, or None."""
    own = tuple(step.get("section") or ())
    if own == section:
        prose = last_sentence(str(step.get("_prose") or ""))
        if prose and EXPECTATION_CUES.search(prose) and not NOT_EXPECTED.search(prose):
            return prose
        return None
    heading = own[-1] if own else ""
    if own[:-1] == section and OUTPUT_HEADING.match(heading.strip()):
        return heading  # a heading right under the command's: "#### Expected output"
    return None
