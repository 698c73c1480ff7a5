"""The JUnit report parses and has the structure CI servers read.

What is checked follows the schema Jenkins' JUnit plugin and Maven Surefire publish (junit-10.xsd:
testsuites > testsuite > testcase; a case holds at most one of failure/error/skipped, then
system-out/system-err; counts and times as numbers), which GitLab's and the GitHub Actions
reporters (dorny/test-reporter, mikepenz/action-junit-report) read as well: every case has a name
and a classname, a failure has a message and a type, the counts on each suite and on the root add
up, timestamps have no time zone, and the text holds no character XML 1.0 forbids.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.dom.minidom
import xml.etree.ElementTree as ET
from pathlib import Path

from runbook_engine.model import Step
from runbook_engine.testing.cases import BookResult, Case
from runbook_engine.testing.junit import classname, to_junit, xml_text

NUMBER = re.compile(r"^\d+$")
SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # xs:dateTime, no zone
SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp",
               "hostname", "file", "id", "package"}
CASE_ATTRS = {"name", "classname", "time", "file", "line", "assertions"}
OUTCOMES = ("failure", "error", "skipped")


def validate(text: str) -> list[str]:
    """Every way the document strays from what CI servers read; [] when it does not."""
    problems: list[str] = []
    if not text.startswith('<?xml version="1.0" encoding="UTF-8"?>'):
        problems.append("no UTF-8 XML declaration")
    xml.dom.minidom.parseString(text.encode("utf-8"))  # a strict parser: raises on bad XML
    root = ET.fromstring(text)
    if root.tag != "testsuites":
        return [*problems, f"root is <{root.tag}>, not <testsuites>"]
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        if suite.tag != "testsuite":
            problems.append(f"<{suite.tag}> under <testsuites>")
            continue
        problems += _suite(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        if root.get(key) != str(value):
            problems.append(f"testsuites {key}={root.get(key)} but the suites add up to {value}")
    if not SECONDS.match(root.get("time", "")):
        problems.append(f"testsuites time={root.get('time')!r}")
    return problems


def _suite(suite: ET.Element) -> list[str]:
    name = suite.get("name") or ""
    problems = [f"suite {name}: unknown attribute {a}" for a in suite.attrib
                if a not in SUITE_ATTRS]
    if not name:
        problems.append("a suite without a name")
    for key in ("tests", "failures", "errors", "skipped"):
        if not NUMBER.match(suite.get(key, "")):
            problems.append(f"suite {name}: {key}={suite.get(key)!r}")
    if not SECONDS.match(suite.get("time", "")):
        problems.append(f"suite {name}: time={suite.get('time')!r}")
    if "timestamp" in suite.attrib and not TIMESTAMP.match(suite.get("timestamp", "")):
        problems.append(f"suite {name}: timestamp={suite.get('timestamp')!r}")
    order = [child.tag for child in suite]
    allowed = ["properties", "testcase", "system-out", "system-err"]
    if sorted(order, key=allowed.index) != order or set(order) - set(allowed):
        problems.append(f"suite {name}: children {order}")
    for prop in suite.iter("property"):
        if not prop.get("name") or "value" not in prop.attrib:
            problems.append(f"suite {name}: a property without name or value")
    cases = suite.findall("testcase")
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        problems += _case(case, name)
        for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            counts[key] += case.find(tag) is not None
    for key, value in counts.items():
        if suite.get(key) != str(value):
            problems.append(f"suite {name}: {key}={suite.get(key)} but it holds {value}")
    return problems


def _case(case: ET.Element, suite: str) -> list[str]:
    where = f"suite {suite}, case {case.get('name')}"
    problems = [f"{where}: unknown attribute {a}" for a in case.attrib if a not in CASE_ATTRS]
    if not case.get("name") or not case.get("classname"):
        problems.append(f"{where}: name and classname are required")
    if not SECONDS.match(case.get("time", "")):
        problems.append(f"{where}: time={case.get('time')!r}")
    if "line" in case.attrib and not NUMBER.match(case.get("line", "")):
        problems.append(f"{where}: line={case.get('line')!r}")
    tags = [child.tag for child in case]
    outcomes = [t for t in tags if t in OUTCOMES]
    if len(outcomes) > 1 or tags[:len(outcomes)] != outcomes:
        problems.append(f"{where}: children {tags}")
    if [t for t in tags if t not in OUTCOMES] not in ([], ["system-out"], ["system-err"],
                                                      ["system-out", "system-err"]):
        problems.append(f"{where}: children {tags}")
    for tag in ("failure", "error"):
        found = case.find(tag)
        if found is not None and (not found.get("message") or not found.get("type")):
            problems.append(f"{where}: <{tag}> needs a message and a type")
    return problems


def step(step_id: str, line: int = 3) -> Step:
    return Step(id=step_id, title=step_id.title(), path="books/x.md", line=line, kind="shell")


def test_every_outcome_and_awkward_output_make_a_valid_report() -> None:
    cases = [
        Case(step("ok"), "passed", stdout="fine\n", duration_s=0.25),
        Case(step("drift"), "failed", "output differs from the transcript's output lines (text)",
             "drift", "- expected <b>&amp;\n+ got", stdout="\x1b[31mred\x1b[0m \x00 \x07\n"),
        Case(step("exit"), "failed", "exit code 3", "exit", "exit code 3",
             stderr="boom ]]> \ud800?\n"),
        Case(step("manual"), "not verified", "manual step: left to the operator"),
    ]
    results = [BookResult("books/x.md", "X & Y", cases, "transcripts/t.jsonl", "r1",
                          "2026-12-02T10:00:00.125Z", 1.5),
               BookResult("books/broken.md", error="books/broken.md:2: bad front matter",
                          exit_code=2)]
    text = to_junit(results)
    assert validate(text) == []
    root = ET.fromstring(text)
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("5", "2", "1", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("timestamp") == "2026-12-02T10:00:00"
    drift = root.find(".//testcase[@name='drift: Drift']")
    assert drift is not None
    assert drift.findtext("failure") == "- expected <b>&amp;\n+ got"
    assert drift.findtext("system-out") == "red \ufffd \ufffd\n"  # no colour codes, no NUL
    assert root.find(".//testcase[@name='exit: Exit']/failure").get("type") == "exit"  # type: ignore[union-attr]


def test_a_real_rehearsal_writes_a_valid_report(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text("""# Awkward output

```bash {#colour}
printf '\\033[32mgreen\\033[0m and a bell \\a\\n'
```

```console
$ echo "a < b && 'quotes'"
a < b && "quotes"
```

```bash {#fails}
echo 'it broke ]]>' >&2; exit 4
```

- [ ] Check by hand
""", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "test", "book.md",
                           "--junit", "report.xml"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stdout
    text = (tmp_path / "report.xml").read_text(encoding="utf-8")
    assert validate(text) == []
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["runbook"] == "book.md" and props["transcript"].startswith("transcripts/")
    (fails,) = [c for c in suite.iter("testcase") if c.get("name", "").startswith("fails")]
    assert fails.findtext("system-err") == "it broke ]]>\n"
    assert [c.get("classname") for c in suite.iter("testcase")] == ["book"] * 4


def test_the_validator_catches_what_reporters_refuse() -> None:
    bad = ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="2" failures="0" '
           'errors="0" skipped="0" time="1"><testsuite name="s" tests="1" failures="0" '
           'errors="0" skipped="0" time="x"><testcase name="a" time="1"><skipped/><failure/>'
           '</testcase></testsuite></testsuites>')
    problems = validate(bad)
    assert "suite s: time='x'" in problems
    assert "suite s, case a: name and classname are required" in problems
    assert "suite s, case a: children ['skipped', 'failure']" in problems
    assert "testsuites tests=2 but the suites add up to 1" in problems


def test_names_for_reporters() -> None:
    assert classname("books/host-health.md") == "books.host-health"
    assert classname("/abs/ops/db.md") == "abs.ops.db"
    assert xml_text("a" * 10 + "b" * 10, limit=5).endswith("bbbbb")
