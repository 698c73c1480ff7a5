"""What a step's output is checked against, and the checking: the runbook's expectations (the
strict ``expect`` regex and the expected output it documents) and, with ``--against``, what the
same step printed in an earlier run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .expected import Comparison, compare, normalise_line, search
from .model import Step
from .state import RunState

#: output kept in arrival order (stdout and stderr interleaved) for the comparison, at most
COMBINED_CHARS = 1024 * 1024
#: the expectation an event carries, at most (an earlier run's output can be long)
EXPECTED_CHARS = 4000


@dataclass(frozen=True)
class Expectation:
    """One thing a step's output should hold, and where it was written."""

    source: str  # a key of events.CHECK_SOURCES
    text: str  # the expected output, or the regex for ``expect``
    strict: bool = False  # a difference fails the step (only ``expect``)
    sample: bool = False  # the expectation shows part of the output
    reference: str | None = None  # the earlier run's transcript (``against``)


@dataclass(frozen=True)
class Check:
    """An expectation and how the output compared with it."""

    expectation: Expectation
    comparison: Comparison

    @property
    def fails_step(self) -> bool:
        return self.expectation.strict and not self.comparison.matches


@dataclass(frozen=True)
class Reference:
    """An earlier run's outputs (``--against``): step id -> target -> what it printed."""

    path: str
    outputs: Mapping[str, Mapping[str, str]]

    @classmethod
    def from_state(cls, state: RunState, path: str) -> Reference:
        """Every step that ended ok in that run, with its output on each target."""
        outputs = {step_id: {host: view.stdout.text for host, view in step.hosts.items()}
                   for step_id, step in state.steps.items() if step.status == "ok"}
        return cls(path, outputs)

    def output(self, step_id: str, host: str) -> str | None:
        hosts = self.outputs.get(step_id) or {}
        if host in hosts:
            return hosts[host]
        return next(iter(hosts.values())) if len(hosts) == 1 else None


class OutputChecker:
    """Checks each attempt's output on each target against the step's expectations."""

    def __init__(self, reference: Reference | None = None) -> None:
        self.reference = reference

    def expectations(self, step: Step, host: str) -> list[Expectation]:
        found: list[Expectation] = []
        if step.expect:
            found.append(Expectation("expect", step.expect, strict=True))
        if step.expected_output and step.expected_output.strip():
            found.append(Expectation(step.expected_from or "region", step.expected_output,
                                     sample=step.expected_sample))
        if self.reference is not None:
            earlier = self.reference.output(step.id, host)
            if earlier is not None:
                found.append(Expectation("against", earlier, reference=self.reference.path))
        return found

    def wants_combined(self, step: Step) -> bool:
        """Is the interleaved output worth keeping for this step (an output to compare)?"""
        return bool(step.expected_output) or (self.reference is not None
                                              and step.id in self.reference.outputs)

    def check(self, step: Step, host: str, stdout: str, stderr: str,
              combined: str | None) -> list[Check]:
        return [Check(e, _compare(e, stdout, stderr, combined))
                for e in self.expectations(step, host)]


def _compare(expectation: Expectation, stdout: str, stderr: str,
             combined: str | None) -> Comparison:
    if expectation.source == "expect":
        return search(expectation.text, stdout + stderr)
    first = compare(expectation.text, stdout, sample=expectation.sample)
    if first.matches or not stderr or combined is None:
        return first
    # what the runbook shows is what a terminal showed: both streams, as they came (or, as two
    # pipes may deliver them in another order, the expectation without the lines of stderr)
    both = compare(expectation.text, combined, sample=expectation.sample)
    if both.matches:
        return both
    if first.mode == "text":
        errors = {normalise_line(line) for line in stderr.splitlines()}
        rest = [line for line in expectation.text.splitlines()
                if normalise_line(line) not in errors]
        without = compare("\n".join(rest), stdout, sample=expectation.sample)
        if without.matches:
            return without
    return first if stdout.strip() else both


def shown_expectation(text: str) -> str:
    """The expectation as an event carries it: whole when short, else its head."""
    if len(text) <= EXPECTED_CHARS:
        return text
    return f"{text[:EXPECTED_CHARS]}\n… {len(text) - EXPECTED_CHARS} more characters"
