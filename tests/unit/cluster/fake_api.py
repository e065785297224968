"""A tiny loopback apiserver for the collector's unit tests: lists with paging, logs, faults.

The simulator (``k8s_monitor.sim``) is the full double; this one is a few lines so that unit
tests can script exact fault sequences (a 410 on the second page, twice) and count requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

JSON = dict[str, Any]


@dataclass
class FakeState:
    lists: dict[str, list[JSON]] = field(default_factory=dict)  # path -> items
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # path -> forced HTTP status
    expire_continue: dict[str, int] = field(default_factory=dict)  # path -> 410s left
    delay: dict[str, float] = field(default_factory=dict)
    token: str | None = None  # when set, require "Bearer <token>"
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    raw_pages: dict[str, bytes] = field(default_factory=dict)  # path -> body served as is
    token_prefix: str = ""  # continue tokens are this + an offset
    fail_next: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, one each
    messages: dict[str, str] = field(default_factory=dict)  # path -> message of a forced status
    remaining_count: bool = True  # send remainingItemCount, as the apiserver does without selectors

    def hits(self) -> Counter[str]:
        return Counter(path for path, _ in self.requests)


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each small response waits for a delayed ACK
        wbufsize = 1 << 16

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            state.requests.append((url.path, query))
            if state.token is not None and self.headers.get("Authorization") != (
                f"Bearer {state.token}"
            ):
                return self._status(401, "Unauthorized")
            if url.path in state.delay:
                time.sleep(state.delay[url.path])
            if url.path in state.status:
                message = state.messages.get(url.path, "forced")
                return self._status(state.status[url.path], message)
            if state.fail_next.get(url.path):
                return self._status(state.fail_next[url.path].pop(0), "transient")
            if url.path.endswith("/log"):
                return self._log(url.path, query)
            if url.path in state.raw_pages:
                return self._send(200, state.raw_pages[url.path], "application/json")
            if url.path not in state.lists:
                return self._status(404, "the server could not find the requested resource")
            return self._list(url.path, query)

        def _list(self, path: str, query: dict[str, list[str]]) -> None:
            items = state.lists[path]
            selector = query.get("fieldSelector", [""])[0]
            if selector.startswith("type="):
                items = [i for i in items if i.get("type") == selector[5:]]
            start = int(query.get("continue", ["0"])[0].removeprefix(state.token_prefix))
            if start and state.expire_continue.get(path, 0) > 0:
                state.expire_continue[path] -= 1
                return self._status(410, "The provided continue parameter is too old")
            limit = int(query.get("limit", ["0"])[0]) or len(items) or 1
            page = items[start : start + limit]
            more = start + limit < len(items)
            remaining = len(items) - start - limit
            body = {
                "kind": "List",
                "apiVersion": "v1",
                "metadata": {
                    "resourceVersion": "42",
                    **({"continue": f"{state.token_prefix}{start + limit}"} if more else {}),
                    **({"remainingItemCount": remaining} if more and state.remaining_count else {}),
                },
                "items": page,
            }
            self._send(200, json.dumps(body).encode(), "application/json")

        def _log(self, path: str, query: dict[str, list[str]]) -> None:
            parts = path.split("/")  # /api/v1/namespaces/{ns}/pods/{pod}/log
            key = (parts[4], parts[6], query.get("container", [""])[0],
                   query.get("previous", ["false"])[0] == "true")  # fmt: skip
            if key not in state.logs:
                return self._status(400, "previous terminated container not found")
            lines = state.logs[key].splitlines(keepends=True)
            tail = int(query.get("tailLines", ["0"])[0])
            text = "".join(lines[-tail:] if tail else lines).encode()
            limit = int(query.get("limitBytes", ["0"])[0])
            self._send(200, text[:limit] if limit else text, "text/plain")

        def _status(self, code: int, message: str) -> None:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": message, "code": code}  # fmt: skip
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@dataclass
class FakeApi:
    state: FakeState
    url: str

    def write_kubeconfig(self, path: Path, token: str = "test-token") -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": token}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        return path


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of the tests, not a failure to print.
        pass


@contextmanager
def serve(state: FakeState) -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield FakeApi(state, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
