"""Incident reports from a realistic event log: golden Markdown/HTML/JSON/notebook, parsed HTML."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from runbook_engine.events import Event, event_from_json
from runbook_engine.transcript.formats import render_html, render_json, render_markdown
from runbook_engine.transcript.notebook import render_notebook
from runbook_engine.transcript.reader import read_events
from runbook_engine.transcript.report import build_report, trim_output

GOLDEN = Path(__file__).parent / "golden"
RUNBOOK = GOLDEN / "runbook.md"
SECRET = "hunter2-Sup3r-s3cret"  # the db_password; never appears, even though a step echoed it
ANNOUNCE = "announce-the-restart-in-the-ops-channel"  # task-list steps: ids from their text
DASHBOARDS = "watch-the-dashboards-for-five-minutes"
START = datetime(2026, 11, 27, 21, 0, 0, tzinfo=UTC)
SECTIONS = {
    "check-disk": ("Preparation",), "fetch-config": ("Preparation",), "migrate": ("Migration",),
    "backup": ("Migration",), ANNOUNCE: ("Migration",), "restart": ("Restart",),
    DASHBOARDS: ("Restart",), "smoke": ("Restart",), "cleanup": ("Restart",),
}
LINES = {"check-disk": 20, "fetch-config": 24, "migrate": 30, "backup": 34, ANNOUNCE: 38,
         "restart": 42, DASHBOARDS: 47, "smoke": 49, "cleanup": 53}
TITLES = {"check-disk": "Check the disk", "fetch-config": "Fetch the config",
          "migrate": "Run the migration", "backup": "Back up the database",
          ANNOUNCE: "Announce the restart", "restart": "Restart the API on the web hosts",
          DASHBOARDS: "Watch the dashboards", "smoke": "Smoke test", "cleanup": "Clean up"}


class Log:
    """Builds events with a deterministic clock (the engine's would be real)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.clock = START

    def __call__(self, kind: str, seconds: float = 0.5, /, **fields: Any) -> None:
        self.clock += timedelta(seconds=seconds)
        ts = self.clock.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.clock.microsecond // 1000:03d}Z"
        self.events.append({"event": kind, "ts": ts, **fields})

    def started(self, step: str, command: str = "", attempt: int = 1, **fields: Any) -> None:
        self("step_started", step=step, index=list(TITLES).index(step) + 1, title=TITLES[step],
             section=list(SECTIONS[step]), line=LINES[step], targets=fields.pop("targets", []),
             command=command, attempt=attempt, lang="bash", **fields)

    def finished(self, step: str, status: str, exit_code: int | None = 0, seconds: float = 1.0,
                 attempts: int = 1, **fields: Any) -> None:
        self("step_finished", seconds, step=step, status=status, exit_code=exit_code,
             duration_s=seconds, attempts=attempts, **fields)


def incident_events() -> list[dict[str, Any]]:
    """A run with ok, failed+retried, edited, skipped, manual done/not done, fan-out, long output,
    notes, a failure that ends the run and a step never reached."""
    log = Log()
    plan = [{"id": s, "title": TITLES[s], "section": list(SECTIONS[s]), "line": LINES[s]}
            for s in TITLES]
    log("run_started", run_id="r-20261127-2100", title="Restart the payments API",
        path="tests/golden/runbook.md", sha256="ab" * 32,
        operator={"login": "alice", "git_name": "Alice Example"}, hostname="ops-laptop",
        version="0.1.0", resumed=False, forced=False, plan=plan,
        selection={"only": None, "granularity": "block"},
        variables=[{"name": "env", "source": "default", "secret": False, "value": "staging"},
                   {"name": "db_password", "source": "prompt", "secret": True, "value": "****"}])
    log("note", step=None, text="Paged by the health check at 20:58; starting the runbook.")
    log.started("check-disk", "df -h /var")
    log("output", step="check-disk", stream="stdout",
        text="Filesystem  Size  Used Avail Use% Mounted on\n"
             "/dev/sda2    50G   31G   17G  65% /var\n")
    log("output_checked", 0.0, step="check-disk", attempt=1, source="region", strict=False,
        sample=False, verdict="matches", mode="text", diff="",
        expected="Filesystem  Size  Used Avail Use% Mounted on\n/dev/sda2  50G  20G  28G  42% /var")
    log.finished("check-disk", "ok", seconds=0.12)
    cmd = "curl -fsS https://config.internal/payments/staging.json -o /tmp/payments.json"
    log.started("fetch-config", cmd)
    log("output", step="fetch-config", stream="stderr",
        text="curl: (22) The requested URL returned error: 503\n")
    log("decision", step="fetch-config", prompt="failed (exit 22): retry/edit/skip/quit?",
        answer="retry")
    log.started("fetch-config", cmd, attempt=2)
    log("output", step="fetch-config", stream="stdout", text="saved 2.1 KiB\n")
    log("output_checked", 0.0, step="fetch-config", attempt=2, source="output block", strict=False,
        sample=False, verdict="differs", mode="text", diff="- config saved\n+ saved 2.1 KiB",
        expected="config saved")
    log("decision", 0.0, step="fetch-config", prompt="Output differs from the runbook. Go on?",
        answer="note")
    log("note", 0.0, step="fetch-config", text="curl now prints the size; update the runbook.")
    log.finished("fetch-config", "ok", seconds=3.4, attempts=2)
    original = './migrate --password "****" --env staging'
    edited = './migrate --password "****" --env staging --dry-run=false \\\n  --lock-timeout 30s'
    log("decision", step="migrate", prompt="run/skip/edit/quit?", answer="edit",
        original=original, edited=edited)
    log.started("migrate", edited)
    log("output", step="migrate", stream="stdout",
        text="connecting with password ****\napplied 0042_add_refunds <ok>\n"
             "``` not a fence ```` <script>alert(1)</script>\n")
    log("var_set", name="migration", source="output", secret=False, value="0042")
    log.finished("migrate", "ok", seconds=12.5, captured={"migration": "0042"})
    log("decision", step="backup", prompt="run/skip/edit/quit?", answer="skip")
    log.finished("backup", "skipped", exit_code=None, seconds=0.0, attempts=0)
    log("decision", step=ANNOUNCE, prompt="done/not done?", answer="done")
    log.finished(ANNOUNCE, "ok", exit_code=None, seconds=40.0, attempts=0)
    restart = "systemctl restart payments-api\njournalctl -u payments-api -n 300 --no-pager"
    log.started("restart", restart, targets=["web1", "web2"])
    journal = "".join(f"Nov 27 21:01:{i % 60:02d} web1 payments[811]: line {i}\n"
                      for i in range(1, 301))
    log("output", step="restart", stream="stdout", host="web1", text=journal[:9000])
    log("output", step="restart", stream="stdout", host="web2", text="-- No entries --\n")
    log("output", step="restart", stream="stdout", host="web1", text=journal[9000:])
    log("note", step="restart", text="web1 logged a slow start (pool warm-up); expected.")
    log.finished("restart", "ok", seconds=8.2,
                 hosts={"web1": {"status": "ok", "exit_code": 0, "duration_s": 8.2},
                        "web2": {"status": "ok", "exit_code": 0, "duration_s": 2.9}},
                 session={"web1": {"cwd": "/srv", "env": {}}, "web2": {"cwd": "/srv", "env": {}}})
    log("decision", step=DASHBOARDS, prompt="done/not done?", answer="not_done")
    log.finished(DASHBOARDS, "ok", exit_code=None, seconds=5.0, attempts=0)
    log.started("smoke", "curl -fsS https://payments.internal/health")
    log("output", step="smoke", stream="stderr",
        text="curl: (7) Failed to connect to payments.internal port 443\n")
    log("decision", step="smoke", prompt="failed (exit 7): retry/edit/skip/quit?", answer="quit")
    log.finished("smoke", "failed", exit_code=7, seconds=0.3)
    log("run_finished", status="failed", counts={"ok": 5, "failed": 1, "skipped": 1, "not_run": 1},
        open_items=[DASHBOARDS])
    return log.events


def typed(events: list[dict[str, Any]]) -> list[Event]:
    """The events as a transcript of schema 1 (before events were typed) reads back."""
    return [event_from_json(json.loads(json.dumps(e))) for e in events]


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1 rewrites)"


def no_secret(text: str) -> None:
    assert SECRET not in text and "hunter2" not in text


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return build_report(typed(incident_events()))


def test_report_document(report: dict[str, Any]) -> None:
    h = report["header"]
    assert (h["title"], h["outcome"], h["operator"]) == (
        "Restart the payments API", "failed", "Alice Example (alice)")
    assert h["start"] == "2026-11-27T21:00:00.500Z" and h["duration_s"] == pytest.approx(81.52)
    steps = {s["id"]: s for s in report["steps"]}
    assert [s["id"] for s in report["steps"]] == list(TITLES)  # plan order
    assert steps["cleanup"]["status"] == "not run"
    assert steps["fetch-config"]["attempts"] == 2
    assert [o["attempt"] for o in steps["fetch-config"]["outputs"]] == [1, 2]
    assert steps["migrate"]["edited"] and "+  --lock-timeout 30s" in steps["migrate"][
        "decisions"][0]["diff"]
    assert (steps[ANNOUNCE]["manual"], steps[DASHBOARDS]["manual"]) == ("done", "not_done")
    web1 = next(o for o in steps["restart"]["outputs"] if o["host"] == "web1")
    assert (web1["lines"], web1["omitted"]) == (300, 100)
    assert "… 100 lines omitted …" in web1["text"] and "line 300" in web1["text"]
    assert [h["name"] for h in steps["restart"]["hosts"]] == ["web1", "web2"]
    assert report["variables"][1] == {"name": "db_password", "value": "****",
                                      "source": "prompt", "secret": True}
    assert [row["what"] for row in report["timeline"]][:3] == [
        "run started", "note: Paged by the health check at 20:58; starting the runbook.",
        "Check the disk"]


def test_output_checks_are_a_timeline_column_and_the_diff_is_under_the_step(
        report: dict[str, Any]) -> None:
    steps = {s["id"]: s for s in report["steps"]}
    assert [c["verdict"] for c in steps["check-disk"]["checks"]] == ["matches"]
    fetch = steps["fetch-config"]["checks"]
    assert [(c["verdict"], c["source"], c["attempt"]) for c in fetch] == [
        ("differs", "output block", 2)]
    rows = {row["step"]: row["expected"] for row in report["timeline"] if row["result"]}
    assert (rows["check-disk"], rows["fetch-config"], rows["migrate"]) == (
        "matches", "differs", "")
    text = render_markdown(report)
    assert "| Time (UTC) | Step | What happened | Result | Expected output |" in text
    assert ("**Expected output**: ≠ differs from the output block after the command (text):"
            in text)
    assert "```diff\n- config saved\n+ saved 2.1 KiB\n```" in text
    assert '<span class="diff-add">+ saved 2.1 KiB</span>' in render_html(report)


def test_secret_values_stay_masked_even_if_an_event_leaked_one() -> None:
    events = incident_events()
    events[0]["variables"][1]["value"] = SECRET  # a slip upstream: the report masks anyway
    doc = build_report(typed(events))
    for text in (render_markdown(doc), render_html(doc), render_json(doc)):
        no_secret(text)


def test_markdown_golden(report: dict[str, Any]) -> None:
    text = render_markdown(report)
    no_secret(text)
    assert "`````text" in text  # the output holds a ```` run: the fence is longer
    tokens = MarkdownIt("commonmark").parse(text)
    html = [t.content for t in tokens if t.type == "html_block"]
    html += [c.content for t in tokens for c in t.children or [] if c.type == "html_inline"]
    assert html and not any("script" in chunk for chunk in html)  # only inside fences
    golden("report.md", text)


def test_json_golden(report: dict[str, Any]) -> None:
    text = render_json(report)
    assert json.loads(text) == report
    golden("report.json", text)


class Checker(HTMLParser):
    """Checks tags are balanced and nothing is fetched or run."""

    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link", "img", "iframe", "object"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("src", "href") and re.match(r"(https?:)?//", value or ""):
                self.problems.append(f"external {name}={value}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_html_is_balanced_self_contained_and_golden(report: dict[str, Any]) -> None:
    text = render_html(report)
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.problems == [] and checker.stack == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "@import" not in text and "url(" not in text
    assert text.count("<details") == 7 and 's-failed' in text
    no_secret(text)
    golden("report.html", text)


def test_notebook_inserts_results_after_fences_only() -> None:
    source = RUNBOOK.read_text(encoding="utf-8")
    text = render_notebook(typed(incident_events()), source)
    golden("notebook.md", text)
    no_secret(text)
    # The runbook's own lines are all there, in order.
    kept = iter(text.split("\n"))
    assert all(any(line == seen for seen in kept) for line in source.split("\n"))
    # The result of check-disk follows its closing fence.
    after = text.split("```bash {id=check-disk}\ndf -h /var\n```\n", 1)[1]
    assert after.startswith("\n<details><summary>Result: ✅ ok · exit 0")
    assert "Announce the restart: ok, done" in text  # manual: in the summary


def test_notebook_adds_no_fenced_code() -> None:
    source = RUNBOOK.read_text(encoding="utf-8")
    events = incident_events()
    # An output that would become a step if it leaked out of its block as Markdown.
    events.insert(5, {"event": "output", "step": "check-disk", "stream": "stdout",
                      "text": "\n\n```bash\nrm -rf /\n```\n\n    indented\n\n</pre>\n"})
    text = render_notebook(typed(events), source)
    fences = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    original = [t for t in MarkdownIt("commonmark").parse(source) if t.type == "fence"]
    assert [f.content for f in fences] == [f.content for f in original]
    assert [t.type for t in MarkdownIt("commonmark").parse(text)].count("code_block") == 0
    try:
        from runbook_engine.parse import parse_text
    except ImportError:
        return  # the parser lands separately; markdown-it already saw no new fence
    assert [s.id for s in parse_text(text).steps] == [s.id for s in parse_text(source).steps]


def test_report_without_plan_and_from_a_real_transcript(tmp_path: Path) -> None:
    events = [e for e in incident_events() if e["event"] != "run_finished"]
    del events[0]["plan"]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))  # as schema 1 wrote them
    with path.open("ab") as handle:
        handle.write(b'{"event":"step_started","st')  # torn by a crash
    read, warnings = read_events(path)
    doc = build_report(read, warnings)
    assert doc["header"]["outcome"] == "interrupted"
    assert "cleanup" not in [s["id"] for s in doc["steps"]]  # unknown without a plan
    assert "last line is incomplete" in render_markdown(doc)


def test_trim_output_keeps_short_text() -> None:
    assert trim_output("a\nb\n") == ("a\nb", 0)
    text, omitted = trim_output("\n".join(str(i) for i in range(500)), head=2, tail=2)
    assert (text, omitted) == ("0\n1\n… 496 lines omitted …\n498\n499", 496)


def test_without_lines_or_plan_the_runbook_text_fills_in() -> None:
    source = RUNBOOK.read_text(encoding="utf-8")
    events = incident_events()
    del events[0]["plan"]
    for event in events:
        event.pop("line", None)
    doc = build_report(typed(events), runbook_text=source)
    steps = {s["id"]: s for s in doc["steps"]}
    if "cleanup" in steps:  # the parser is there: it lists the step never reached
        assert steps["cleanup"]["status"] == "not run"
    text = render_notebook(typed(events), source)
    # Without a line, a step is found by the id in its fence's info string.
    after = text.split("```bash {id=smoke}\ncurl -fsS https://payments.internal/health\n```\n")[1]
    assert after.startswith("\n<details><summary>Result: ❌ failed · exit 7")


E2E_BOOK = """---
title: Tiny
vars:
  pw: {secret: true, default: "SECRET"}
---
# Tiny

## Greet

```bash
echo hello; echo "pw is {{ pw }}"
```

## Count

```bash
for i in $(seq 1 500); do echo line $i; done
```
""".replace("SECRET", SECRET)


def test_real_run_renders_every_format_without_the_secret(tmp_path: Path) -> None:
    import subprocess
    import sys

    pytest.importorskip("runbook_engine.engine")
    (tmp_path / "book.md").write_text(E2E_BOOK, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(GOLDEN.parent.parent)}
    cli = [sys.executable, "-m", "runbook_engine"]
    done = subprocess.run([*cli, "run", "book.md", "--yes", "--transcript", "t/run.jsonl"],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outputs = {}
    for fmt in ("markdown", "html", "json", "notebook"):
        shown = subprocess.run([*cli, "transcript", "t/run.jsonl", "--format", fmt],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        outputs[fmt] = shown.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "book.md":
            assert SECRET.encode() not in path.read_bytes()
    for fmt in ("markdown", "html", "json"):
        no_secret(outputs[fmt])
    # The notebook reproduces the runbook unchanged (here with a secret default in it): no more.
    assert outputs["notebook"].count(SECRET) == E2E_BOOK.count(SECRET) == 1
    assert "pw is ****" in outputs["markdown"] and "… 300 lines omitted …" in outputs["markdown"]
    assert json.loads(outputs["json"])["header"]["outcome"] == "ok"
    notebook = outputs["notebook"]
    assert notebook.count("<details>") == 2 and E2E_BOOK.split("\n")[-2] in notebook


def test_a_run_killed_during_a_step_shows_it_unfinished() -> None:
    events = incident_events()[:-4]  # killed while the smoke test ran
    doc = build_report(typed(events))
    smoke = next(s for s in doc["steps"] if s["id"] == "smoke")
    assert (doc["header"]["outcome"], smoke["status"]) == ("interrupted", "unfinished")
    assert doc["timeline"][-1]["result"] == "no result: the run stopped during this step"
    assert "### ⚠️ Smoke test" in render_markdown(doc)
