"""A fault-injecting HTTP proxy for the emulator: the failures the emulator cannot inject on its own.

The emulator's own fault injection (`Faults`) answers an error *instead of* acting. A real network also loses
answers *after* the server acted, and cuts bodies short; that is what makes a retried create act twice. The
proxy sits between the client and the emulator (the client uses it as its HTTP proxy, exactly as it uses the
emulator) and, per request, does one of:

    pass         forward the request and the whole answer
    drop_before  close the connection without forwarding (the server never saw the request)
    drop_after   forward, let the server act, read its answer, then close without sending it
    truncate     forward, send the answer's head and half of its body, then close

either at random (`rate`, seeded) or as scripted (`script("CreateSubmission", "drop_after")`: the next request
whose target contains that text). It listens on 127.0.0.1 only, forwards only to the one upstream it was given,
handles at most `max_requests` requests, and every socket has a timeout: it cannot hang a test.

Example:

    with running_emulator(store) as server, FaultProxy(server.url, rate=0.15, seed=1) as proxy:
        env = client_env(proxy.url, home)           # kk and the official client now go through the proxy
        proxy.script("CreateSubmission", "drop_after")
        ...
        proxy.stats                                  # Counter({'pass': 40, 'drop_after': 3, ...})
"""

from __future__ import annotations

import random
import socket
import socketserver
import threading
from collections import Counter
from urllib.parse import urlsplit

KINDS = ("drop_before", "drop_after", "truncate")
_HEAD_LIMIT = 64 * 1024


def _read_head(stream) -> bytes | None:
    """Bytes up to and including the blank line ending an HTTP head; None at a clean EOF."""
    lines = []
    size = 0
    while True:
        line = stream.readline(_HEAD_LIMIT)
        if not line:
            return None if not lines else b"".join(lines)
        lines.append(line)
        size += len(line)
        if line in (b"\r\n", b"\n") or size > _HEAD_LIMIT:
            return b"".join(lines)


def _header(head: bytes, name: str) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name.lower().encode():
            return value.strip().decode("latin-1")
    return None


def _with_connection_close(head: bytes) -> bytes:
    """The head with any Connection header replaced by `Connection: close` (one request per connection)."""
    lines = [ln for ln in head.rstrip(b"\r\n").split(b"\r\n")
             if not ln.lower().startswith((b"connection:", b"keep-alive:", b"proxy-connection:"))]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _read_body(stream, head: bytes) -> bytes:
    length = _header(head, "Content-Length")
    if length is not None:
        return stream.read(int(length))
    if (_header(head, "Transfer-Encoding") or "").lower() == "chunked":
        # Passed through raw: the chunk framing is kept, the proxy only needs to know where it ends.
        parts = []
        while True:
            size_line = stream.readline(_HEAD_LIMIT)
            parts.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    trailer = stream.readline(_HEAD_LIMIT)
                    parts.append(trailer)
                    if trailer in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
            parts.append(stream.read(size + 2))
    return b""


class FaultProxy:
    """An HTTP proxy in front of `upstream` (`http://127.0.0.1:PORT`) that loses answers on purpose.

    Args:
        upstream: the emulator's URL; must be on 127.0.0.1 or localhost.
        rate: probability that a request gets one of `kinds` (0: only scripted faults).
        seed: the random generator's seed (a run is reproducible for a given order of requests).
        kinds: the faults drawn at random.
        max_requests: requests answered in all; later ones are refused (a runaway loop ends).
        timeout: seconds any socket operation may take.
    """

    def __init__(self, upstream: str, rate: float = 0.0, seed: int | None = 0, kinds: tuple[str, ...] = KINDS,
                 max_requests: int = 50_000, timeout: float = 30.0):
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            raise ValueError(f"the fault proxy only forwards to a local emulator, not {upstream!r}")
        unknown = set(kinds) - set(KINDS)
        if unknown or not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad fault kinds {sorted(unknown)} or rate {rate}")
        self.upstream = ("127.0.0.1", parts.port)
        self.rate, self.kinds, self.max_requests, self.timeout = rate, kinds, max_requests, timeout
        self.stats: Counter[str] = Counter()
        self.faulted: list[tuple[str, str]] = []  # (kind, request line) of every fault applied
        self._random = random.Random(seed)
        self._scripted: list[list] = []  # [match, kind, times]
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = self.timeout

            def handle(self) -> None:
                proxy._serve(self)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def seed(self, seed: int) -> None:
        """Restart the random faults' sequence."""
        with self._lock:
            self._random.seed(seed)

    def script(self, match: str, kind: str, times: int = 1) -> None:
        """Apply `kind` to the next `times` requests whose request line contains `match` (before any random fault).

        Scripts apply in the order given, so `script("GetKernel", "pass")` then `script("GetKernel", "drop_before")`
        lets the first such request through and drops the second.
        """
        if kind not in (*KINDS, "pass"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._scripted.append([match, kind, times])

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kk-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection ----------------------------------------------------------------------------------------------

    def _choose(self, request_line: str) -> str:
        with self._lock:
            if sum(self.stats.values()) >= self.max_requests:
                return "refuse"
            for entry in self._scripted:
                if entry[0] in request_line:
                    entry[2] -= 1
                    if entry[2] <= 0:
                        self._scripted.remove(entry)
                    return entry[1]
            if self.rate and self._random.random() < self.rate:
                return self._random.choice(self.kinds)
            return "pass"

    def _serve(self, handler: socketserver.StreamRequestHandler) -> None:
        head = _read_head(handler.rfile)
        if not head:
            return
        body = _read_body(handler.rfile, head)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        kind = self._choose(request_line)
        with self._lock:
            self.stats[kind] += 1
            if kind not in ("pass", "refuse"):
                self.faulted.append((kind, request_line))
        if kind in ("drop_before", "refuse"):
            return  # closing the connection unanswered
        with socket.create_connection(self.upstream, timeout=self.timeout) as up:
            up.sendall(_with_connection_close(head) + body)
            chunks = []
            while data := up.recv(1 << 16):
                chunks.append(data)
        answer = b"".join(chunks)
        if kind == "drop_after":
            return
        end = answer.find(b"\r\n\r\n")
        if end >= 0:  # this connection ends here: the client must not wait for, or reuse, it
            answer = _with_connection_close(answer[: end + 4]) + answer[end + 4:]
        if kind == "truncate":
            end = answer.find(b"\r\n\r\n") + 4
            body_len = len(answer) - end
            answer = answer[: end + body_len // 2] if body_len > 1 else b""
        handler.wfile.write(answer)
        handler.wfile.flush()
