"""`runbook serve` over plain HTTP: tokens (403 without one), the watcher cannot act, a POST needs
the operator's token in a header and JSON, only the page's own files are served, and the
headers a browser needs to keep the page to itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from webserve import Served

BOOK = """# Guarded

```bash {#hello}
echo hello-output
```

```bash {#second}
echo second-output
```
"""


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    (tmp_path / "book.md").write_text(BOOK)
    server = Served(tmp_path / "book.md", tmp_path)
    yield server
    server.stop()


def prompt_id(served: Served) -> str:
    return str(served.prompt()["id"])


def test_without_a_token_everything_is_403(served: Served) -> None:
    for path in ("/", "/static/app.js", "/api/state", "/api/events", "/favicon.ico",
                 "/x/", f"/{served.operator_token[:-1]}/", f"/{served.watcher_token}x/api/state",
                 "/../etc/passwd"):
        assert served.request(path).status == 403, path
    reply = served.request("/api/answer", method="POST", body=b"{}",
                           headers={"Content-Type": "application/json",
                                    "X-Runbook-Token": served.operator_token})
    assert reply.status == 403


def test_each_token_gets_its_page_and_the_state(served: Served) -> None:
    operator = served.request(f"/{served.operator_token}/")
    watcher = served.request(f"/{served.watcher_token}/")
    assert operator.status == watcher.status == 200
    assert 'data-role="operator"' in operator.body and 'data-role="watcher"' in watcher.body
    assert served.request(f"/{served.watcher_token}/api/state").json()["role"] == "watcher"
    csp = operator.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert operator.headers["x-content-type-options"] == "nosniff"
    assert operator.headers["referrer-policy"] == "no-referrer"
    assert operator.headers["x-frame-options"] == "DENY"


def test_the_watcher_token_cannot_act(served: Served) -> None:
    pid = prompt_id(served)
    for header in (served.watcher_token, served.operator_token):
        reply = served.post(served.watcher_token, "/api/answer", {"prompt": pid, "text": "y"},
                            header=header)
        assert reply.status == 403
    for path in ("/api/note", "/api/stop", "/api/resume"):
        assert served.post(served.watcher_token, path, {"text": "x"},
                           header=served.watcher_token).status == 403
    assert prompt_id(served) == pid  # nothing was answered
    assert not [e for e in served.events() if e["event"] in ("decision", "note")]


def test_a_post_without_the_header_or_not_json_is_refused(served: Served) -> None:
    pid = prompt_id(served)
    assert served.post(served.operator_token, "/api/answer", {"prompt": pid, "text": "y"}
                       ).status == 403
    # what a form on another site could send: the right path, no header, form encoding
    form = served.request(f"/{served.operator_token}/api/answer", method="POST",
                          body=f"prompt={pid}&text=y".encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 403
    plain = served.request(f"/{served.operator_token}/api/answer", method="POST",
                           body=json.dumps({"prompt": pid, "text": "y"}).encode(),
                           headers={"Content-Type": "text/plain",
                                    "X-Runbook-Token": served.operator_token})
    assert plain.status == 403
    # a GET never acts
    assert served.request(f"/{served.operator_token}/api/answer?prompt={pid}&text=y"
                          ).status == 405
    assert prompt_id(served) == pid
    taken = served.post(served.operator_token, "/api/answer", {"prompt": pid, "text": "y"},
                        header=served.operator_token)
    assert taken.status == 200 and taken.json() == {"ok": True, "message": ""}


def test_a_reply_that_is_no_answer_is_refused_with_the_terminals_words(served: Served) -> None:
    pid = prompt_id(served)
    reply = served.post(served.operator_token, "/api/answer", {"prompt": pid, "text": "maybe"},
                        header=served.operator_token)
    assert reply.status == 422
    assert reply.json()["message"] == "please answer one of a/e/n/no/q/y/yes"
    stale = served.post(served.operator_token, "/api/answer", {"prompt": "0" * 16, "text": "y"},
                        header=served.operator_token)
    assert stale.status == 422 and "answered already" in stale.json()["message"]


def test_only_the_pages_own_files_are_served(served: Served, tmp_path: Path) -> None:
    token = served.operator_token
    assert served.request(f"/{token}/static/app.js").status == 200
    assert served.request(f"/{token}/static/notebook.css").headers["content-type"].startswith(
        "text/css")
    for name in ("hub.py", "..%2f..%2fserver.py", "..%2F..%2F..%2Fbook.md", "%2e%2e/book.md"):
        reply = served.request(f"/{token}/static/{name}")
        assert reply.status == 404, name
        assert "hello-output" not in reply.body
    assert served.request(f"/{token}/static/../../book.md").status in (403, 404)
    assert served.request(f"/{token}/output/hello?stream=stdout").status == 404  # never ran


def test_a_foreign_host_name_is_refused(served: Served) -> None:
    reply = served.request(f"/{served.operator_token}/",
                           headers={"Host": f"attacker.example:{served.base.rsplit(':', 1)[1]}"})
    assert reply.status == 403


def test_the_live_stream_numbers_its_messages(served: Served) -> None:
    pid = prompt_id(served)
    served.post(served.operator_token, "/api/answer", {"prompt": pid, "text": "y"},
                header=served.operator_token)
    stream = served.sse(served.watcher_token, 2.0)
    assert "event: output" in stream and '"text": "hello-output\\n"' in stream
    numbers = [int(line[4:]) for line in stream.splitlines() if line.startswith("id: ")]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    later = served.sse(served.watcher_token, 1.0, after=numbers[-1])
    assert "hello-output" not in later  # a page continues where it was


def test_binding_beyond_loopback_warns(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text(BOOK)
    server = Served(tmp_path / "book.md", tmp_path, "--host", "0.0.0.0")
    try:
        assert "".join(server.out).startswith("warning: listening on 0.0.0.0, not only on this "
                                              "machine")
        assert server.request(f"/{server.watcher_token}/").status == 200
    finally:
        server.stop()
