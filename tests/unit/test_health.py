"""Probe rules with a fake clock, and the HTTP server on a loopback port chosen by the OS."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest

from k8s_monitor.errors import ConfigurationError
from k8s_monitor.health import HealthServer, HealthState
from k8s_monitor.metrics import Metrics
from tests.builders import T0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def _state(clock: Clock, alive: list[bool] | None = None) -> HealthState:
    flag = alive if alive is not None else [True]
    return HealthState(
        interval_seconds=60, startup_grace_seconds=30, scheduler_alive=lambda: flag[0], now=clock
    )


def test_ready_during_startup_grace_then_not_without_a_success() -> None:
    clock = Clock()
    state = _state(clock)
    assert state.readiness().ok
    assert state.readiness().reason == "starting"
    clock.advance(31)
    assert not state.readiness().ok
    state.cycle_finished(False, clock())
    assert not state.readiness().ok
    assert state.readiness().detail["failures_in_a_row"] == 1


def test_ready_until_last_success_is_older_than_two_intervals_plus_grace() -> None:
    clock = Clock()
    state = _state(clock)
    state.cycle_finished(True, clock.advance(5))
    clock.advance(150)  # limit is 2 x 60 + 30 = 150 s
    assert state.readiness().ok
    state.cycle_finished(False, clock())
    clock.advance(1)
    result = state.readiness()
    assert not result.ok
    assert result.reason == "last successful cycle is too old"
    state.cycle_finished(True, clock())
    assert state.readiness().ok
    assert state.readiness().detail["failures_in_a_row"] == 0


def test_liveness_follows_the_scheduler_not_cycle_failures() -> None:
    clock = Clock()
    alive = [True]
    state = _state(clock, alive)
    for _ in range(5):
        state.cycle_finished(False, clock.advance(600))
    assert state.liveness().ok
    alive[0] = False
    assert not state.liveness().ok


def test_liveness_fails_on_a_hung_cycle_only_when_a_limit_is_set() -> None:
    clock = Clock()
    limited = HealthState(
        interval_seconds=60,
        startup_grace_seconds=30,
        scheduler_alive=lambda: True,
        max_cycle_seconds=300,
        now=clock,
    )
    unlimited = _state(clock)
    for state in (limited, unlimited):
        state.cycle_started(clock())
    clock.advance(300)
    assert limited.liveness().ok
    clock.advance(1)
    assert limited.liveness().reason == "cycle hung"
    assert not limited.liveness().ok
    assert unlimited.liveness().ok
    limited.cycle_finished(True, clock())
    assert limited.liveness().ok


def test_rejects_nonsense_intervals() -> None:
    with pytest.raises(ValueError, match="interval"):
        HealthState(interval_seconds=0, startup_grace_seconds=1, scheduler_alive=lambda: True)


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_server_answers_probes_and_metrics_on_a_free_port() -> None:
    clock = Clock()
    alive = [True]
    state = _state(clock, alive)
    metrics = Metrics()
    metrics.observe_error("collect", "ClusterUnreachableError")
    server = HealthServer("127.0.0.1", 0, state, metrics.registry)
    server.start()
    try:
        port = server.port
        assert port > 0
        status, kind, body = _get(port, "/healthz")
        assert (status, kind) == (200, "application/json")
        assert json.loads(body)["status"] == "ok"

        assert _get(port, "/readyz")[0] == 200
        clock.advance(31)
        status, _, body = _get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["reason"] == "no successful cycle since start"

        status, kind, body = _get(port, "/metrics")
        assert status == 200
        assert kind.startswith("text/plain")
        assert b'k8s_monitor_errors_total{stage="collect",type="ClusterUnreachableError"} 1.0' in (
            body
        )

        assert _get(port, "/nope")[0] == 404
        alive[0] = False
        assert _get(port, "/healthz")[0] == 503
    finally:
        server.stop()


def test_server_answers_500_when_a_probe_raises() -> None:
    def broken() -> bool:
        raise OSError("scheduler state unreadable")

    state = HealthState(interval_seconds=60, startup_grace_seconds=30, scheduler_alive=broken)
    with HealthServer("127.0.0.1", 0, state, Metrics().registry) as server:
        assert _get(server.port, "/healthz")[0] == 500
        assert _get(server.port, "/readyz")[0] == 200


def test_stop_releases_the_port() -> None:
    state = HealthState(interval_seconds=60, startup_grace_seconds=30, scheduler_alive=lambda: True)
    server = HealthServer("127.0.0.1", 0, state, Metrics().registry)
    server.start()
    port = server.port
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_port_in_use_is_a_configuration_error() -> None:
    state = HealthState(interval_seconds=60, startup_grace_seconds=30, scheduler_alive=lambda: True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = HealthServer("127.0.0.1", taken.getsockname()[1], state, Metrics().registry)
        with pytest.raises(ConfigurationError, match="METRICS_PORT"):
            server.start()
