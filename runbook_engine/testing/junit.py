"""Rehearsed runbooks as JUnit XML, the report GitHub Actions, GitLab and Jenkins read.

One ``<testsuite>`` per runbook, one ``<testcase>`` per step: ``<failure>`` with the reason as its
message and the diff (or the failure in full) as its text, ``<skipped>`` with why a step was not
verified, ``<error>`` for a runbook that could not run, each step's stdout and stderr in
``<system-out>`` and ``<system-err>``. Attributes follow the Jenkins/Surefire schema that the
others read too (``tests``, ``failures``, ``errors``, ``skipped``, ``time`` on suites and on the
root; ``name``, ``classname``, ``time``, and ``file``/``line`` on cases).
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import PurePath

from .cases import BookResult, Case

#: characters XML 1.0 cannot hold (terminal escapes, NUL): replaced, or the file does not parse
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
#: the most of a step's output a report keeps per stream (the transcript holds all of it)
OUTPUT_CHARS = 64 * 1024


def xml_text(text: str, limit: int = 0) -> str:
    """Text an XML 1.0 file can hold: colour codes dropped, other control characters as U+FFFD."""
    text = _NOT_XML.sub("\ufffd", _ANSI.sub("", text))
    if limit and len(text) > limit:
        return f"… {len(text) - limit} characters omitted (see the transcript) …\n" + \
            text[-limit:]
    return text


def classname(path: str) -> str:
    """``books/host-health.md`` -> ``books.host-health``: reporters group cases by it."""
    parts = PurePath(path).with_suffix("").parts
    return ".".join(p for p in parts if p not in ("", ".", "..", "/")) or "runbook"


def to_junit(results: Sequence[BookResult], name: str = "runbook test") -> str:
    """The whole rehearsal as a JUnit XML document (UTF-8, with its declaration)."""
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += result.duration_s
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _suite(result: BookResult) -> ET.Element:
    suite = ET.Element("testsuite", name=xml_text(result.title or result.path))
    errors = 1 if result.error else 0
    counts = {"tests": len(result.cases) + errors, "failures": result.count("failed"),
              "errors": errors, "skipped": result.count("not verified")}
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{result.duration_s:.3f}")
    if result.started:
        suite.set("timestamp", result.started.rstrip("Z").split(".")[0])
    suite.set("hostname", socket.gethostname())
    suite.set("file", result.path)
    properties = ET.SubElement(suite, "properties")
    for prop, text in (("runbook", result.path), ("transcript", result.transcript),
                       ("run_id", result.run_id)):
        if text:
            ET.SubElement(properties, "property", name=prop, value=xml_text(text))
    if result.error:
        errored = ET.SubElement(suite, "testcase", name="load and run",
                                classname=classname(result.path), time="0.000", file=result.path)
        ET.SubElement(errored, "error", message=xml_text(result.error), type="runbook").text = \
            xml_text(result.error)
    for case in result.cases:
        suite.append(_case(case, result.path))
    return suite


def _case(case: Case, path: str) -> ET.Element:
    step = case.step
    title = f"{step.id}: {step.title}" if step.title and step.title != step.id else step.id
    element = ET.Element("testcase", name=xml_text(title), classname=classname(path),
                         time=f"{case.duration_s:.3f}", file=step.path, line=str(step.line))
    if case.outcome == "failed":
        failure = ET.SubElement(element, "failure", message=xml_text(case.reason),
                                type=case.kind or "failure")
        failure.text = xml_text(case.details or case.reason)
    elif case.outcome == "not verified":
        ET.SubElement(element, "skipped", message=xml_text(case.reason))
    if case.stdout:
        ET.SubElement(element, "system-out").text = xml_text(case.stdout, OUTPUT_CHARS)
    if case.stderr:
        ET.SubElement(element, "system-err").text = xml_text(case.stderr, OUTPUT_CHARS)
    return element
