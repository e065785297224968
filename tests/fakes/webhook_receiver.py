"""A loopback HTTP receiver standing in for Slack, generic webhooks and heartbeat URLs.

Records every request (path, headers, JSON body) and can be told to fail: the next N requests,
or every request until told otherwise, with a chosen status code. Binds 127.0.0.1 on port 0.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Behaviour:
    fail_next: int = 0
    fail_always: bool = False
    status: int = 500
    lock: threading.Lock = field(default_factory=threading.Lock)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender that hangs up mid-answer (Alertmanager stopped while notifying) is not news.
        return


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.attempts = 0
        self._behaviour = _Behaviour()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status = receiver._decide()
                if status == 200:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), json.loads(raw or b"null"))
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:  # heartbeat pings
                status = receiver._decide()
                if status == 200:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), None))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/T000/B000/secret-token-xyz"

    def fail(self, times: int = 1, status: int = 500) -> None:
        with self._behaviour.lock:
            self._behaviour.fail_next = times
            self._behaviour.status = status

    def fail_always(self, status: int = 500) -> None:
        with self._behaviour.lock:
            self._behaviour.fail_always = True
            self._behaviour.status = status

    def recover(self) -> None:
        with self._behaviour.lock:
            self._behaviour.fail_always = False
            self._behaviour.fail_next = 0

    def _decide(self) -> int:
        with self._behaviour.lock:
            self.attempts += 1
            if self._behaviour.fail_always:
                return self._behaviour.status
            if self._behaviour.fail_next > 0:
                self._behaviour.fail_next -= 1
                return self._behaviour.status
            return 200

    def keys(self) -> list[str]:
        return [r.headers.get("Idempotency-Key", "") for r in self.received]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
