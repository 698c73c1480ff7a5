"""TCP relays for tests and benchmarks: a ProxyCommand (stdin/stdout to host:port) and a
userspace delay proxy that adds a fixed latency each way (a realistic link on loopback).

As a program: ``python tcprelay.py HOST PORT [LOG]`` relays stdin/stdout to HOST:PORT (what
OpenSSH's ``ProxyCommand`` expects), appending ``HOST PORT`` to LOG first when given;
``python tcprelay.py delay PORT SECONDS`` runs a DelayProxy to 127.0.0.1:PORT and prints its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
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


def _quickack(sock: object) -> None:
    """ACK what was read at once: the proxy stands for wire, not for a host with delayed ACKs
    (else the sender's Nagle waits up to 40 ms for our ACK, a cost no real link adds)."""
    if hasattr(sock, "setsockopt") and hasattr(socket, "TCP_QUICKACK"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)  # type: ignore[attr-defined]


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
        down_sock, up_sock = writer.get_extra_info("socket"), up_writer.get_extra_info("socket")
        for sock in (down_sock, up_sock):
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(reader, up_writer, down_sock),
                             self._pipe(up_reader, writer, up_sock), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    read_sock: object) -> None:
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
                _quickack(read_sock)
        finally:
            queue.put_nowait((loop.time() + self.delay, b""))
            with contextlib.suppress(Exception):
                await task
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def spawn_delay_proxy(port: int, delay: float) -> tuple[subprocess.Popen[bytes], int]:
    """A DelayProxy to 127.0.0.1:``port`` in a process of its own (so it takes no CPU time or
    GIL from the measured process); returns the process and the port it listens on."""
    proc = subprocess.Popen([sys.executable, __file__, "delay", str(port), str(delay)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


if __name__ == "__main__" and sys.argv[1] == "delay":
    proxy = DelayProxy(("127.0.0.1", int(sys.argv[2])), float(sys.argv[3]))
    print(proxy.port, flush=True)
    proxy.thread.join()
elif __name__ == "__main__":
    if len(sys.argv) > 3:
        with open(sys.argv[3], "a") as log:
            log.write(f"{sys.argv[1]} {sys.argv[2]}\n")
    relay_stdio(sys.argv[1], int(sys.argv[2]))
