"""The HTTP side of ``runbook serve`` (Starlette on uvicorn, the only importer of either): two
random tokens, one per role, lead every path; without one, 403. Pages, the state, the live
messages (server-sent events) and full outputs for both roles; answers, notes, stop and resume
for the operator only, with the operator token repeated in a header (a form or a link from
another site cannot set one)."""

from __future__ import annotations

import hmac
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .hub import Hub
from .notebook import asset
from .output import full_output

TOKEN_HEADER = "X-Runbook-Token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin",
           "Cross-Origin-Resource-Policy": "same-origin"}
STATIC = {"app.js": "text/javascript; charset=utf-8", "notebook.css": "text/css; charset=utf-8"}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
KEEPALIVE_S = 5.0


@dataclass(frozen=True)
class Tokens:
    operator: str
    watcher: str

    def role(self, presented: str) -> str | None:
        """Which role a token is (compared in constant time, both always)."""
        given = presented.encode()
        is_operator = hmac.compare_digest(given, self.operator.encode())
        is_watcher = hmac.compare_digest(given, self.watcher.encode())
        return "operator" if is_operator else "watcher" if is_watcher else None


class Guard:
    """Before any route: the token leads the path (403 otherwise), the Host is this machine when
    bound to it (no DNS rebinding), and every answer carries the security headers."""

    def __init__(self, app: ASGIApp, tokens: Tokens, loopback: bool) -> None:
        self.app = app
        self.tokens = tokens
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = scope["path"].lstrip("/").split("/", 1)[0]
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").rsplit(":", 1)[0]
        role = self.tokens.role(token)
        if role is None or (self.loopback and host not in LOOPBACK):
            response = PlainTextResponse("forbidden\n", status_code=403, headers=HEADERS)
            return await response(scope, receive, send)
        scope.setdefault("state", {})["role"] = role

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured)


Handler = Callable[[Request], Awaitable[Response]]


def app(hub: Hub, pages: dict[str, str], transcript: Path, tokens: Tokens,
        loopback: bool = True) -> ASGIApp:
    """The ASGI application: ``pages`` holds the page for each role."""

    def operator_only(handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            header = request.headers.get(TOKEN_HEADER, "")
            if request.scope["state"]["role"] != "operator" or not hmac.compare_digest(
                    header.encode(), tokens.operator.encode()):
                return PlainTextResponse("forbidden: the operator's token is needed\n", 403)
            if request.headers.get("content-type", "").split(";")[0] != "application/json":
                return PlainTextResponse("forbidden: JSON only\n", 403)
            return await handler(request)
        return checked

    async def page(request: Request) -> Response:
        return Response(pages[request.scope["state"]["role"]],
                        media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found\n", 404)
        return Response(asset(name), media_type=STATIC[name])

    async def state(request: Request) -> Response:
        snapshot = await anyio.to_thread.run_sync(hub.snapshot)
        return JSONResponse({**snapshot, "role": request.scope["state"]["role"]})

    async def events(request: Request) -> Response:
        start = request.headers.get("last-event-id") or request.query_params.get("after", "0")
        after = int(start) if start.isdigit() else 0
        return StreamingResponse(_stream(hub, after), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    async def output(request: Request) -> Response:
        step = request.path_params["step"]
        stream = request.query_params.get("stream", "stdout")
        host = request.query_params.get("host") or None
        text = await anyio.to_thread.run_sync(full_output, transcript, step, stream, host)
        if text is None:
            return PlainTextResponse("no such output\n", 404)
        return PlainTextResponse(text)

    async def answer(request: Request) -> Response:
        body = await _json(request)
        verdict = await anyio.to_thread.run_sync(hub.reply, str(body.get("prompt", "")), body)
        return JSONResponse({"ok": verdict.ok, "message": verdict.message},
                            status_code=200 if verdict.ok else 422)

    async def note(request: Request) -> Response:
        text = str((await _json(request)).get("text", "")).strip()
        if not text or hub.note is None:
            return JSONResponse({"ok": False, "message": "nothing to record"}, 422)
        step = hub.prompt.view.get("step") if hub.prompt else hub.live.run_view()["running"]
        await anyio.to_thread.run_sync(hub.note, text, step)
        return JSONResponse({"ok": True})

    async def stop(request: Request) -> Response:
        stopped = hub.interrupt() if hub.interrupt is not None else False
        return JSONResponse({"ok": stopped, "message": "" if stopped else "no step is running"},
                            200 if stopped else 409)

    async def resume(request: Request) -> Response:
        if not hub.finished.is_set():
            return JSONResponse({"ok": False, "message": "the run is still going"}, 409)
        hub.resume_wanted.set()
        return JSONResponse({"ok": True})

    routes = [
        Route("/{token}/", page),
        Route("/{token}/static/{name}", static),
        Route("/{token}/api/state", state),
        Route("/{token}/api/events", events),
        Route("/{token}/output/{step}", output),
        Route("/{token}/api/answer", operator_only(answer), methods=["POST"]),
        Route("/{token}/api/note", operator_only(note), methods=["POST"]),
        Route("/{token}/api/stop", operator_only(stop), methods=["POST"]),
        Route("/{token}/api/resume", operator_only(resume), methods=["POST"]),
    ]
    return Guard(Starlette(routes=routes), tokens, loopback)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _stream(hub: Hub, after: int) -> AsyncIterator[str]:
    """Server-sent events: each message with its number (a reconnecting page continues from
    the last it saw), a comment now and then to keep the connection open."""
    yield "retry: 1000\n\n"
    while not hub.closed:
        messages = await anyio.to_thread.run_sync(hub.since, after, KEEPALIVE_S)
        if messages is None:
            yield "event: reset\ndata: {}\n\n"
            return
        if not messages:
            yield ": keep-alive\n\n"
            continue
        yield "".join(f"id: {seq}\nevent: {name}\ndata: {data}\n\n" for seq, name, data in messages)
        after = messages[-1][0]


class WebServer:
    """uvicorn in a thread, on a socket bound before it starts (port 0: a free one)."""

    def __init__(self, application: ASGIApp, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(application, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.socket]}, daemon=True,
                                       name="runbook-web")

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        for _ in range(int(timeout / 0.02)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.02)
        if not self.server.started:
            raise OSError("the web server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()
