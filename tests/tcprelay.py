"""TCP relays for tests and benchmarks: a ProxyCommand (stdin/stdout to host:port) and a
userspace delay proxy that adds a fixed latency each way (a realistic link on loopback).

As a program: ``python tcprelay.py HOST PORT [LOG]`` relays stdin/stdout to HOST:PORT (what
OpenSSH's ``ProxyCommand`` expects), appending ``HOST PORT`` to LOG first when given;
``python tcprelay.py delay PORT SECONDS`` runs a DelayProxy to 127.0.0.1:PORT and prints its port
(and 1 when it runs with wire priority, else 0).
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time


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


def _quickack(sock: socket.socket) -> None:
    """ACK what was read at once: the proxy stands for wire, not for a host with delayed ACKs
    (else the sender's Nagle waits up to 40 ms for our ACK, a cost no real link adds)."""
    if hasattr(socket, "TCP_QUICKACK"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class DelayProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target``; every chunk is delivered
    ``delay`` seconds after it arrived, in order, in both directions (so a round trip costs
    2 x delay more), without limiting bandwidth.

    A thread reads each direction and a thread delivers it (``time.sleep`` to the due time:
    an event loop's timers round up to the millisecond and cost a loop pass per chunk).
    """

    def __init__(self, target: tuple[str, int], delay: float = 0.015) -> None:
        self.target, self.delay = target, delay
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # closed
            while True:
                conn, _ = self.listener.accept()
                threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, down: socket.socket) -> None:
        try:
            up = socket.create_connection(self.target)
        except OSError:
            down.close()
            return
        for sock in (down, up):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=self._pipe, args=(up, down), daemon=True)
        back.start()
        self._pipe(down, up)
        back.join()
        down.close()
        up.close()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy ``src`` to ``dst`` ``delay`` late; pass the end of ``src`` on, as late."""
        chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        deliverer = threading.Thread(target=self._deliver, args=(chunks, dst), daemon=True)
        deliverer.start()
        with contextlib.suppress(OSError):
            while data := src.recv(262144):
                chunks.put((time.monotonic() + self.delay, data))
                _quickack(src)
        chunks.put((time.monotonic() + self.delay, b""))
        deliverer.join()

    @staticmethod
    def _deliver(chunks: queue.SimpleQueue[tuple[float, bytes]], dst: socket.socket) -> None:
        while True:
            due, data = chunks.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()


def wire_priority() -> bool:
    """Run this process before the machine's other work (SCHED_FIFO, when allowed): the proxy
    stands for a wire, which does not wait for a CPU that the measured programs are using;
    else its wake-ups, late under load, would be counted as theirs. Event-driven, it never
    spins, and the kernel keeps 5% of each second for normal tasks anyway."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, OSError):
        return False
    return True


def spawn_delay_proxy(port: int, delay: float) -> tuple[subprocess.Popen[bytes], int, bool]:
    """A DelayProxy to 127.0.0.1:``port`` in a process of its own (so it takes no CPU time or
    GIL from the measured process); returns the process, the port it listens on, and whether
    it got its wire priority (``wire_priority``)."""
    proc = subprocess.Popen([sys.executable, __file__, "delay", str(port), str(delay)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    got, fifo = proc.stdout.readline().split()
    return proc, int(got), fifo == b"1"


if __name__ == "__main__" and sys.argv[1] == "delay":
    fifo = wire_priority()
    proxy = DelayProxy(("127.0.0.1", int(sys.argv[2])), float(sys.argv[3]))
    print(proxy.port, int(fifo), flush=True)
    proxy.thread.join()
elif __name__ == "__main__":
    if len(sys.argv) > 3:
        with open(sys.argv[3], "a") as log:
            log.write(f"{sys.argv[1]} {sys.argv[2]}\n")
    relay_stdio(sys.argv[1], int(sys.argv[2]))
