"""`runbook serve` end to end in a real headless browser (Debian's chromium, Playwright): the
operator drives the run from the page, a watcher follows it read-only, a reload shows the same
state, a quit run resumes; secrets and hostile text stay inert."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webserve import ENV, Served

SECRET = "hunter2-Zq8-never-shown"

BOOK = """# Web run

A runbook driven from a browser.

## Stream

```bash {#stream}
echo first-chunk
while [ ! -e go ]; do sleep 0.05; done
echo second-chunk
```

## Skip

```bash {#skipped}
echo should-not-run
```

## Edit

```bash {#edited}
echo before-edit
```

## Danger

```bash {#wipe}
rm -rf ./scratch && echo wiped
```

## Pick one

```bash
echo alternative-one
# Or
echo alternative-two
```

## Secret

```bash {#secret}
echo "the token is {{ api_token }}"
```
"""


class Page:
    """A browser page on one of the URLs, noting every dialog (none may open) and every
    response body it received."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.bodies: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message),
                                               dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("response", self._keep)
        self.page.set_default_timeout(20_000)
        self.page.goto(url)

    def _keep(self, response: Any) -> None:
        if "/api/events" in response.url:
            return  # a stream that never ends: read by the test itself
        with contextlib.suppress(Exception):  # a body the page dropped (a navigation)
            self.bodies.append(response.text())

    def cell(self, step: str) -> Any:
        return self.page.locator(f'section.cell[data-step="{step}"]')

    def prompt(self, step: str | None = None, kind: str | None = None) -> Any:
        """The question shown (of ``kind``: the one before it may still be on the page)."""
        where = self.cell(step) if step else self.page.locator("#dock")
        prompt = where.locator(f'.prompt[data-kind="{kind}"]' if kind else ".prompt")
        prompt.wait_for()
        return prompt

    def output(self, step: str, text: str) -> None:
        self.cell(step).locator("pre.out", has_text=text).first.wait_for()

    def status(self, step: str, status: str) -> None:
        self.page.wait_for_selector(f'section.cell[data-step="{step}"].st-{status}')

    def close(self) -> None:
        self.context.close()


def serve_and_open(browser: Any, tmp_path: Path, book: str) -> tuple[Served, Page]:
    (tmp_path / "book.md").write_text(book)
    served = Served(tmp_path / "book.md", tmp_path)
    return served, Page(browser, served.operator)


def run(page: Page, step: str) -> None:
    """Answer the step's question with Run."""
    page.prompt(step).get_by_role("button", name="Run y").click()


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    (tmp_path / "book.md").write_text(BOOK)
    (tmp_path / "scratch").mkdir()
    server = Served(tmp_path / "book.md", tmp_path)
    yield server
    server.stop()


def test_the_operator_drives_the_run_and_a_watcher_follows_it(browser: Any, served: Served,
                                                              tmp_path: Path) -> None:
    operator = Page(browser, served.operator)
    watcher = Page(browser, served.watcher)

    # the notebook: prose and a cell per step, on both pages
    assert operator.page.locator("main h2", has_text="Stream").count() == 1
    assert watcher.cell("wipe").locator(".danger-box").count() == 1

    # run a step: its output streams in while it runs, on both pages
    run(operator, "stream")
    operator.output("stream", "first-chunk")
    operator.status("stream", "running")
    watcher.output("stream", "first-chunk")
    watcher.status("stream", "running")
    assert watcher.page.locator("button").count() == 0  # read-only: not a single button
    assert watcher.page.locator("textarea, input").count() == 0

    # reload mid-run: the same state, from the run's events
    operator.page.reload()
    operator.output("stream", "first-chunk")
    operator.status("stream", "running")
    assert "second-chunk" not in operator.cell("stream").locator("pre.out").inner_text()
    (tmp_path / "go").touch()
    operator.output("stream", "second-chunk")
    operator.status("stream", "ok")
    watcher.output("stream", "second-chunk")
    watcher.status("stream", "ok")

    # skip one (with the keyboard, as on the terminal)
    operator.prompt("skipped")
    operator.page.keyboard.press("n")
    operator.status("skipped", "skipped")
    watcher.status("skipped", "skipped")

    # edit one: the edited command runs
    prompt = operator.prompt("edited")
    prompt.get_by_role("button", name="Edit e").click()
    prompt.locator("textarea").fill("echo after-edit\n")
    prompt.get_by_role("button", name="Run edited").click()
    operator.output("edited", "after-edit")
    operator.status("edited", "ok")
    assert "edited by the operator" in operator.cell("edited").inner_text()

    # a dangerous step runs only on its typed id
    prompt = operator.prompt("wipe")
    assert prompt.get_by_role("button", name="Run all a").count() == 0
    prompt.locator("input").fill("yes")
    prompt.get_by_role("button", name="Run", exact=True).click()
    prompt.locator(".error", has_text="this step is dangerous: type its id 'wipe' to run it"
                   ).wait_for()
    assert not [e for e in served.events() if e["event"] == "step_started"
                and e["step"] == "wipe"]
    prompt.locator("input").fill("wipe")
    prompt.get_by_role("button", name="Run", exact=True).click()
    operator.output("wipe", "wiped")
    assert not (tmp_path / "scratch").exists()

    # pick an alternative: the second one runs, the first is skipped
    first, second = [s["id"] for s in plan_steps(served) if s["choice"]]
    prompt = operator.prompt(first)
    assert prompt.locator(".option").count() == 2
    prompt.get_by_role("button", name="Run this one 2").click()
    operator.output(second, "alternative-two")
    operator.status(first, "skipped")

    # a secret: typed into a password field, masked in the output, never sent back
    prompt = operator.prompt()
    field = prompt.locator("input[type=password]")
    field.fill(SECRET)
    field.press("Enter")
    prompt = operator.prompt("secret")
    assert "the token is ****" in prompt.inner_text() and SECRET not in prompt.inner_text()
    prompt.get_by_role("button", name="Run y").click()
    operator.output("secret", "the token is ****")
    watcher.output("secret", "the token is ****")
    operator.page.locator(".banner.ok", has_text="Run ok").wait_for()
    watcher.page.locator(".banner.ok", has_text="Run ok").wait_for()
    assert operator.page.locator("#run-status").inner_text() == "run ok"

    # the secret is in no response: pages, state, outputs, the live stream, the transcript
    stream = served.sse(served.operator_token, 1.5)
    assert "the token is ****" in stream
    everything = [stream, *operator.bodies, *watcher.bodies,
                  served.request(f"/{served.operator_token}/api/state").body,
                  served.request(f"/{served.watcher_token}/").body,
                  served.request(f"/{served.operator_token}/output/secret?stream=stdout").body,
                  served.transcript.read_text()]
    assert not [body for body in everything if SECRET in body]
    assert SECRET not in operator.page.content() + watcher.page.content()
    assert not operator.dialogs and not operator.errors and not watcher.errors

    decisions = {e["step"]: e["answer"] for e in served.events() if e["event"] == "decision"}
    assert decisions == {"stream": "run", "skipped": "skip", "edited": "edit", "wipe": "run",
                         first: "choice", "secret": "run"}
    assert served.stop() == 0
    operator.close()
    watcher.close()


def plan_steps(served: Served) -> list[dict[str, Any]]:
    """The steps of the served runbook, from `runbook plan --format json`."""
    result = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", "book.md",
                             "--format", "json"], cwd=served.cwd, env=ENV, capture_output=True,
                            text=True, timeout=60)
    return list(json.loads(result.stdout)["steps"])


QUIT_BOOK = """# Quit and resume

```bash {#one}
echo one-done
```

```bash {#two}
echo two-done
```

```bash {#three}
echo three-done
```
"""


def test_quit_then_resume_from_the_page_and_with_resume(browser: Any, tmp_path: Path) -> None:
    served, page = serve_and_open(browser, tmp_path, QUIT_BOOK)
    run(page, "one")
    page.output("one", "one-done")
    page.prompt("two").get_by_role("button", name="Quit q").click()
    page.page.locator(".banner.aborted", has_text="Run aborted").wait_for()
    served.wait_output("Run aborted")

    # resume from the page: one stays done, two asks again
    page.page.get_by_role("button", name="Resume this run").click()
    run(page, "two")
    page.output("two", "two-done")
    page.prompt("three").get_by_role("button", name="Quit q").click()
    page.page.locator(".banner.aborted").wait_for()
    assert served.stop() == 1  # the run did not finish
    page.close()

    # `serve --resume`: a new server rebuilds the page from the transcript and goes on
    again = Served(tmp_path / "book.md", tmp_path, "--resume", "t.jsonl")
    page = Page(browser, again.operator)
    page.output("one", "one-done")
    page.output("two", "two-done")
    page.status("one", "ok")
    run(page, "three")
    page.output("three", "three-done")
    page.page.locator(".banner.ok").wait_for()
    assert again.stop() == 0
    started = [e["step"] for e in again.events() if e["event"] == "step_started"]
    assert started == ["one", "two", "three"]  # each ran once, across three sessions
    assert [e["resumed"] for e in again.events() if e["event"] == "run_started"] == [
        False, True, True]
    assert not page.errors
    page.close()


HOSTILE = """---
title: "Hostile <img src=x onerror=alert('title')>"
---

# Hostile <script>alert('heading')</script>

Prose <img src=x onerror=alert('prose')> and <script>alert('prose')</script>.

```bash {#xss}
echo '<script>alert(1)</script>'
echo '<img src=x onerror=alert(2)>'
printf '%s\\n' '"><svg onload=alert(3)>'
```
"""


def test_hostile_output_and_runbook_text_stay_text(browser: Any, tmp_path: Path) -> None:
    served, page = serve_and_open(browser, tmp_path, HOSTILE)
    run(page, "xss")
    page.status("xss", "ok")
    page.output("xss", "<svg onload=alert(3)>")
    out = page.cell("xss").locator("pre.out").inner_text()
    assert "<script>alert(1)</script>" in out and "<img src=x onerror=alert(2)>" in out
    assert page.page.locator("main img, main svg, .cell-live script").count() == 0
    assert "<script>alert('heading')</script>" in page.page.locator("main h1").inner_text()
    page.page.wait_for_timeout(300)
    assert page.dialogs == [] and page.errors == []
    # and the plan page of the same runbook, opened as a file
    plan = tmp_path / "plan.html"
    result = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", "book.md", "--format",
                             "html"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                            timeout=60)
    plan.write_text(result.stdout)
    page.page.goto(plan.as_uri())
    page.page.wait_for_timeout(300)
    assert page.dialogs == [] and page.page.locator("section.cell").count() == 1
    served.wait_output("Run ok")  # the session is over: Ctrl-C now only stops the server
    assert served.stop() == 0
    page.close()


LONG = """# Long output

```bash {#long}
seq 1 50000 | sed 's/^/output line number /'
```

```bash {#after}
echo after-long
```
"""


def test_fifty_thousand_lines_keep_the_page_responsive(browser: Any, tmp_path: Path) -> None:
    served, page = serve_and_open(browser, tmp_path, LONG)
    run(page, "long")
    page.output("long", "output line number 50000")
    page.status("long", "ok")
    pre = page.cell("long").locator("pre.out")
    lines = pre.inner_text().splitlines()
    assert len(lines) <= 2000 and lines[-1] == "output line number 50000"
    started = time.monotonic()
    assert page.page.evaluate("() => document.querySelectorAll('pre.out').length") == 1
    assert time.monotonic() - started < 2  # the page answers at once
    link = page.cell("long").locator("a", has_text="open the full output")
    assert "earlier lines not shown" in page.cell("long").locator(".omitted").inner_text()
    full = served.request(link.get_attribute("href") or "")
    assert full.status == 200
    assert full.body.splitlines() == [f"output line number {n}" for n in range(1, 50001)]
    assert any(e["event"] == "output_spilled" for e in served.events())  # past the inline MiB
    run(page, "after")
    page.output("after", "after-long")
    served.wait_output("Run ok")
    assert served.stop() == 0
    assert not page.errors
    page.close()


def test_the_state_a_page_starts_from_is_the_transcripts(tmp_path: Path) -> None:
    """Folding the transcript gives the model the live page was built from."""
    from runbook_engine.transcript.reader import read_events
    from runbook_engine.web.live import LiveRun

    (tmp_path / "book.md").write_text(QUIT_BOOK)
    served = Served(tmp_path / "book.md", tmp_path)
    for _ in range(3):
        prompt = served.prompt()
        served.post(served.operator_token, "/api/answer", {"prompt": prompt["id"], "text": "y"},
                    header=served.operator_token)
        while served.prompt_or_none() == prompt["id"]:
            time.sleep(0.05)
    served.wait_output("Run ok")
    live = served.request(f"/{served.operator_token}/api/state").json()
    folded = LiveRun.fold(read_events(served.transcript)[0])
    assert json.loads(json.dumps({s: folded.step_view(s) for s in folded.step_ids()})) == \
        live["steps"]
    assert served.stop() == 0


DRIFT = """# Drift

```bash
echo hello-today
# Expected output
hello-yesterday
```
"""


def test_output_that_differs_from_the_runbook_asks_and_takes_a_note(browser: Any,
                                                                     tmp_path: Path) -> None:
    served, page = serve_and_open(browser, tmp_path, DRIFT)
    step = plan_steps(served)[0]["id"]
    run(page, step)
    prompt = page.prompt(step, kind="drift")  # waits for the drift question to replace Run
    page.cell(step).locator(".check.differs").wait_for()
    assert "hello-yesterday" in page.cell(step).locator(".checks").inner_text()
    prompt.get_by_role("button", name="Note n").click()
    prompt.locator("textarea").last.fill("the greeting changed in 2.0")
    prompt.get_by_role("button", name="Go on with this note").click()
    page.status(step, "ok")
    page.page.locator(".banner.ok").wait_for()
    assert served.stop() == 0
    events = served.events()
    assert [(e["step"], e["text"]) for e in events if e["event"] == "note"] == [
        (step, "the greeting changed in 2.0")]
    assert [e["answer"] for e in events if e["event"] == "decision"] == ["run", "note"]
    page.close()
