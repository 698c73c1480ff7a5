"""TCP relays for tests and benchmarks: a ProxyCommand (stdin/stdout to host:port) and a
userspace delay proxy that adds a fixed latency each way (a realistic link on loopback).

As a program: ``python tcprelay.py HOST PORT [LOG]`` relays stdin/stdout to HOST:PORT (what
OpenSSH's ``ProxyCommand`` expects), appending ``HOST PORT`` to LOG first when given.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading


def relay_stdio(host: str, port: int) -> None:
    """Copy stdin to the socket and the socket to stdout until both ends close."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def upstream() -> None:
        while data := os.read(0, 65536):
            sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := sock.recv(65536):
        os.write(1, data)


class DelayProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target``; every chunk is delivered
    ``delay`` seconds after it arrived, in order, in both directions (so a round trip costs
    2 x delay more), without limiting bandwidth. Runs an asyncio loop in a daemon thread."""

    def __init__(self, target: tuple[str, int], delay: float = 0.015) -> None:
        self.target, self.delay = target, delay
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(262144):
                queue.put_nowait((loop.time() + self.delay, data))
        finally:
            queue.put_nowait((loop.time() + self.delay, b""))
            with contextlib.suppress(Exception):
                await task
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


if __name__ == "__main__":
    if len(sys.argv) > 3:
        with open(sys.argv[3], "a") as log:
            log.write(f"{sys.argv[1]} {sys.argv[2]}\n")
    relay_stdio(sys.argv[1], int(sys.argv[2]))
