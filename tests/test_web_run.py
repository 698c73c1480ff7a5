"""`runbook serve` driven over HTTP as the page drives it: stop a running step (what Ctrl-C does
on a terminal), notes, a step that needs a terminal, a value refused and asked again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from webserve import Served

STOPPABLE = """# Stoppable

```bash {#long}
echo started-long
sleep 60
```

```bash {#follow}
tail -f /dev/null
```

```bash {#console}
top
```
"""


def answer(served: Served, text: str, **fields: Any) -> dict[str, Any]:
    prompt = served.prompt()
    reply = served.post(served.operator_token, "/api/answer",
                        {"prompt": prompt["id"], "text": text, **fields},
                        header=served.operator_token)
    assert reply.status == 200, reply.body
    return prompt


def wait_event(served: Served, kind: str, step: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in served.events():
            if event["event"] == kind and event.get("step") == step:
                return event
        time.sleep(0.05)
    raise AssertionError(f"no {kind} for {step}")


def test_stop_notes_and_a_step_that_needs_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text(STOPPABLE)
    served = Served(tmp_path / "book.md", tmp_path)
    try:
        operator = served.operator_token
        assert served.post(operator, "/api/stop", {}, header=operator).status == 409  # idle
        assert answer(served, "y")["step"] == "long"
        wait_event(served, "output", "long")
        note = served.post(operator, "/api/note", {"text": "paged the DBA"}, header=operator)
        assert note.status == 200
        stopped = served.post(operator, "/api/stop", {}, header=operator)
        assert stopped.status == 200 and stopped.json()["ok"] is True
        failure = served.prompt()  # as on a terminal: retry, edit, skip or quit
        while failure["kind"] != "failure":
            failure = served.prompt()
        assert failure["step"] == "long" and failure["status"] == "interrupted"
        answer(served, "s")
        finished = wait_event(served, "step_finished", "long")
        assert finished["status"] == "interrupted"
        assert finished["reason"] == "interrupted; skipped by operator"
        # `tail -f` runs until stopped: stopping it is its success
        assert answer(served, "y")["step"] == "follow"
        wait_event(served, "step_started", "follow")
        time.sleep(0.3)
        assert served.post(operator, "/api/stop", {}, header=operator).status == 200
        assert wait_event(served, "step_finished", "follow")["status"] == "ok"
        # `top` needs a terminal the page cannot give: left to do by hand
        console = wait_event(served, "step_finished", "console")
        assert console["status"] == "skipped" and console["open_item"].startswith("console:")
        served.wait_output("Run failed: 1 ok, 1 interrupted, 1 skipped")  # the stopped one
        notes = [e for e in served.events() if e["event"] == "note"]
        assert [(n["step"], n["text"]) for n in notes] == [("long", "paged the DBA")]
    finally:
        served.stop()


CHOOSY = """---
title: Choosy
vars:
  region: {choices: [eu, us]}
---

```bash {#where}
echo "region={{ region }}"
```
"""


def test_a_value_outside_its_choices_is_refused_and_asked_again(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text(CHOOSY)
    served = Served(tmp_path / "book.md", tmp_path)
    try:
        first = answer(served, "mars")
        assert first["kind"] == "var" and first["choices"] == ["eu", "us"]
        again = served.prompt()
        while again["id"] == first["id"]:
            again = served.prompt()
        assert again["kind"] == "var"
        stream = served.sse(served.watcher_token, 1.0)
        assert "variable 'region' must be one of eu, us (got 'mars')" in stream
        answer(served, "eu")
        answer(served, "y")
        wait_event(served, "step_finished", "where")
        assert any(e["event"] == "output" and e["text"] == "region=eu\n" for e in served.events())
        served.wait_output("Run ok")  # the session is over: Ctrl-C now only stops the server
    finally:
        assert served.stop() == 0
