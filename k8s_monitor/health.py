"""Health and metrics endpoints: ``/healthz``, ``/readyz`` and ``/metrics`` on ``METRICS_PORT``.

``HealthState`` is pure bookkeeping with an injectable clock, so the probe rules are tested
without sleeping; ``HealthServer`` serves it from a background thread of the daemon.

- liveness (``/healthz``): the process answers, the scheduler is alive and no cycle has run
  past ``max_cycle_seconds`` (when set). It deliberately ignores cycle failures: restarting the
  pod does not bring an unreachable apiserver back.
- readiness (``/readyz``): a cycle succeeded within 2 x interval + grace, or, before the first
  success, the daemon is still inside its start-up grace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from k8s_monitor.errors import ConfigurationError

log = structlog.get_logger(__name__)

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
METRICS_PATH = "/metrics"
PATHS = (HEALTHZ_PATH, READYZ_PATH, METRICS_PATH)
JSON_CONTENT_TYPE = "application/json"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str
    detail: dict[str, Any]

    def body(self) -> bytes:
        return orjson.dumps(
            {"status": "ok" if self.ok else "fail", "reason": self.reason, **self.detail}
        )


class HealthState:
    """What the probes decide from: start time, cycle outcomes, and whether the scheduler runs."""

    def __init__(
        self,
        *,
        interval_seconds: float,
        startup_grace_seconds: float,
        scheduler_alive: Callable[[], bool],
        max_cycle_seconds: float | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        if interval_seconds <= 0 or startup_grace_seconds < 0:
            raise ValueError("interval must be positive and grace not negative")
        if max_cycle_seconds is not None and max_cycle_seconds <= 0:
            raise ValueError("max_cycle_seconds must be positive")
        self.interval_seconds = interval_seconds
        self.startup_grace_seconds = startup_grace_seconds
        self._scheduler_alive = scheduler_alive
        # A cycle stuck this long (a call with no timeout) only ends with a restart; None: off.
        self.max_cycle_seconds = max_cycle_seconds
        self._now = now
        self._lock = threading.Lock()
        self.started_at = now()
        self.cycles = 0
        self.failures_in_a_row = 0
        self.last_cycle_at: datetime | None = None
        self.last_success_at: datetime | None = None
        self.running_since: datetime | None = None

    @property
    def staleness_limit_seconds(self) -> float:
        """How old the last success may be before the daemon is not ready."""
        return 2 * self.interval_seconds + self.startup_grace_seconds

    def cycle_started(self, at: datetime) -> None:
        """Optional: lets liveness notice a cycle that never ends (see ``max_cycle_seconds``)."""
        with self._lock:
            self.running_since = at

    def cycle_finished(self, success: bool, at: datetime) -> None:
        with self._lock:
            self.running_since = None
            self.cycles += 1
            self.last_cycle_at = at
            if success:
                self.last_success_at = at
                self.failures_in_a_row = 0
            else:
                self.failures_in_a_row += 1

    def liveness(self) -> ProbeResult:
        detail: dict[str, Any] = {"uptime_seconds": round(self._uptime(), 3)}
        if not self._scheduler_alive():
            return ProbeResult(False, "scheduler stopped", detail)
        with self._lock:
            running_since = self.running_since
        if running_since is not None and self.max_cycle_seconds is not None:
            running = (self._now() - running_since).total_seconds()
            detail["cycle_running_seconds"] = round(running, 3)
            if running > self.max_cycle_seconds:
                return ProbeResult(False, "cycle hung", detail)
        return ProbeResult(True, "scheduler running", detail)

    def readiness(self) -> ProbeResult:
        with self._lock:
            last_success = self.last_success_at
            detail: dict[str, Any] = {
                "cycles": self.cycles,
                "failures_in_a_row": self.failures_in_a_row,
                "last_success_at": last_success.isoformat() if last_success else None,
                "staleness_limit_seconds": self.staleness_limit_seconds,
            }
        if last_success is not None:
            age = (self._now() - last_success).total_seconds()
            detail["last_success_age_seconds"] = round(age, 3)
            if age <= self.staleness_limit_seconds:
                return ProbeResult(True, "recent successful cycle", detail)
            return ProbeResult(False, "last successful cycle is too old", detail)
        if self._uptime() <= self.startup_grace_seconds:
            return ProbeResult(True, "starting", detail)
        return ProbeResult(False, "no successful cycle since start", detail)

    def _uptime(self) -> float:
        return (self._now() - self.started_at).total_seconds()


class HealthServer:
    """Serves the probes and ``/metrics`` from a daemon thread; ``port`` is the bound port."""

    def __init__(
        self, host: str, port: int, state: HealthState, registry: CollectorRegistry
    ) -> None:
        self.host = host
        self.requested_port = port
        self.state = state
        self.registry = registry
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("HealthServer is not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        handler = _handler_for(self.state, self.registry)
        try:
            server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        except OSError as exc:
            raise ConfigurationError(
                "METRICS_PORT", f"cannot listen on {self.host}:{self.requested_port}: {exc}"
            ) from exc
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="health-server",
            daemon=True,
        )
        self._thread.start()
        log.info("health_server_started", host=self.host, port=self.port)

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
        self._server = None
        self._thread = None
        log.info("health_server_stopped")

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _handler_for(state: HealthState, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        health_state = state
        metrics_registry = registry

    return Handler


class _Handler(BaseHTTPRequestHandler):
    health_state: HealthState
    metrics_registry: CollectorRegistry
    server_version = "k8s-monitor"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == METRICS_PATH:
                self._send(
                    HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(self.metrics_registry)
                )
            elif path == HEALTHZ_PATH:
                self._send_probe(self.health_state.liveness())
            elif path == READYZ_PATH:
                self._send_probe(self.health_state.readiness())
            else:
                self._send(HTTPStatus.NOT_FOUND, JSON_CONTENT_TYPE, b'{"status":"not found"}')
        # An endpoint must answer 500 rather than drop the socket, whatever went wrong.
        except Exception as exc:
            log.exception(
                "health_endpoint_failed", path=path, error_type=type(exc).__name__, error=str(exc)
            )
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, JSON_CONTENT_TYPE, b'{"status":"error"}')

    def _send_probe(self, result: ProbeResult) -> None:
        status = HTTPStatus.OK if result.ok else HTTPStatus.SERVICE_UNAVAILABLE
        self._send(status, JSON_CONTENT_TYPE, result.body())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes hit these endpoints every few seconds; an access log line each would drown the
        # daemon's own lines in `kubectl logs`.
        return
