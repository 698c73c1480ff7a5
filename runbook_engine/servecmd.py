"""`runbook serve BOOK`: the run driven from a browser. The same engine, controller protocol and
transcript as `runbook run`; the page is the operator's terminal, a second URL a read-only view."""

from __future__ import annotations

import ipaddress
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .events import Note
from .load import Loaded
from .model import RunbookError, UsageError
from .recording import Recorder
from .runcmd import RunRequest, prepare, resume_command, run_loaded, transcript_path
from .runners.base import TargetError
from .state import RunState

if TYPE_CHECKING:
    from .engine import Engine
    from .web.hub import Hub
    from .web.server import Tokens

INSTALL_HINT = "pip install 'runbook-engine[web]'"


@dataclass(frozen=True)
class ServeRequest:
    run: RunRequest
    host: str = "127.0.0.1"
    port: int = 0


def serve(request: ServeRequest) -> int:
    """Serve the run until Ctrl-C; the exit code is the last session's (0 ok, 1 failed or quit,
    130 interrupted at a question)."""
    try:
        from .web.server import Tokens, WebServer, app
    except ImportError as exc:
        raise UsageError(f"runbook serve needs Starlette and uvicorn ({exc.name} is missing): "
                         f"{INSTALL_HINT}") from None
    from .control import Controller
    from .render import plan_document
    from .transcript.reader import read_events
    from .web.controller import WebController
    from .web.hub import Hub
    from .web.live import LiveRun
    from .web.notebook import Live, page

    loaded, state, overrides = prepare(request.run)  # refusals come before anything listens
    path = transcript_path(request.run, loaded.runbook.path)
    run = replace(request.run, transcript_path=str(path))
    hub = Hub(LiveRun.fold(read_events(path)[0]) if run.resume_path else LiveRun())
    doc = plan_document(loaded.graph, loaded.steps, loaded.variables,
                        placeholder_values=loaded.cli_vars)
    source = Path(loaded.runbook.path).read_text(encoding="utf-8")
    tokens = Tokens(operator=secrets.token_urlsafe(24), watcher=secrets.token_urlsafe(24))
    pages = {role: page(loaded.runbook, doc, source, Live(role))
             for role in ("operator", "watcher")}
    loopback = _is_loopback(request.host)
    try:
        server = WebServer(app(hub, pages, path, tokens, loopback), request.host, request.port)
    except OSError as exc:
        raise UsageError(f"runbook serve: cannot listen on {request.host}:{request.port}: "
                         f"{exc.strerror or exc}") from None
    server.start()
    _announce(request, loaded.runbook.title, server.port, tokens, path, loopback)

    def controller(emit: Recorder) -> Controller:
        """The page's: it asks through the hub; the operator's notes are recorded by ``emit``."""
        def note(text: str, step: str | None) -> None:
            emit(Note(step=step, text=text))

        hub.note = note
        return WebController(hub, note)

    def started(engine: Engine) -> None:
        hub.interrupt = engine.interrupt

    code = 1
    try:
        while True:
            hub.finished.clear()
            try:
                outcome = run_loaded(run, loaded, state, path=path, display=hub.observe,
                                     controller=controller, overrides=overrides,
                                     terminal=False, started=started)
                code, status = outcome.exit_code, outcome.status
            except (RunbookError, TargetError) as exc:  # an unreachable host: said, resumable
                print(str(exc), file=sys.stderr)
                hub.problem(str(exc))
                code, status = getattr(exc, "exit_code", 1), "failed"
            hub.interrupt = None
            hub.session_ended()
            _report(status, state.counts, run, path)
            if code >= 128:  # Ctrl-C at a question, SIGTERM, SIGHUP: the server stops with the run
                return code
            loaded, state, overrides = _wait_for_resume(hub, run, path)
            run = replace(run, resume_path=str(path))
    except KeyboardInterrupt:
        return code
    finally:
        hub.close()
        server.stop()


def _wait_for_resume(hub: Hub, run: RunRequest,
                     path: Path) -> tuple[Loaded, RunState, tuple[str, ...]]:
    """Serve the finished run until the operator's page asks to resume it (or Ctrl-C)."""
    while True:
        while not hub.resume_wanted.wait(0.5):
            pass
        hub.resume_wanted.clear()
        try:
            return prepare(replace(run, resume_path=str(path)))
        except RunbookError as exc:  # the runbook changed meanwhile: say so, keep serving
            print(str(exc), file=sys.stderr)
            hub.problem(str(exc))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _announce(request: ServeRequest, title: str, port: int, tokens: Tokens, path: Path,
              loopback: bool) -> None:
    host = request.host if ":" not in request.host else f"[{request.host}]"
    shown = "127.0.0.1" if request.host in ("0.0.0.0", "::") else host
    operator, watcher = tokens.operator, tokens.watcher
    lines = [f"runbook serve: {title}",
             f"  operator: http://{shown}:{port}/{operator}/   (drives the run: keep it to "
             f"yourself)",
             f"  watchers: http://{shown}:{port}/{watcher}/   (read-only: share it)",
             f"  transcript: {path}",
             "Ctrl-C stops the server."]
    if not loopback:
        lines.insert(0, f"warning: listening on {request.host}, not only on this machine: "
                        "anyone who can reach it and holds a URL can watch (or, with the "
                        "operator's, run) this runbook")
    print("\n".join(lines), flush=True)


def _report(status: str, counts: dict[str, int], run: RunRequest, path: Path) -> None:
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing run"
    print(f"Run {status}: {summary}", flush=True)
    if status != "ok":
        print(f"to resume: the operator's page, or {resume_command(run, path, 'serve')}",
              file=sys.stderr, flush=True)
