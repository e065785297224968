"""Probes and /metrics on a live ``k8s-monitor run`` subprocess against the simulator."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from k8s_monitor import sim
from tests.integration import daemon_process


def _free_port() -> int:
    # The OS picks a free port; the daemon binds it a moment later (a race we accept in tests).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for_status(daemon: Any, port: int, path: str, status: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if daemon.proc.poll() is not None:
            raise AssertionError(f"the daemon exited ({daemon.proc.returncode}):\n{daemon.output}")
        try:
            code, body = _get(port, path)
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if code == status:
                return body
            last = (code, body)
        time.sleep(0.1)
    raise AssertionError(f"{path} never answered {status}; last: {last!r}\n{daemon.output}")


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Iterator[Path]:
    with sim.SimServer(sim.load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        yield server.write_kubeconfig(tmp_path / "kubeconfig", token="health-test")


def test_probes_and_metrics_answer_on_a_running_daemon(kubeconfig: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "KUBECONFIG": str(kubeconfig),
        "SESSION_DIR": str(tmp_path / "sessions"),
        "REPORT_DIR": str(tmp_path / "reports"),
        "LLM_PROVIDER": "offline",
        "METRICS_PORT": str(port),
        "METRICS_HOST": "127.0.0.1",
        "MONITORING_INTERVAL_MINUTES": "0.02",
    }
    daemon = daemon_process.DaemonProcess(["run"], env, tmp_path)
    try:
        alive = json.loads(
            _wait_for_status(daemon, port, "/healthz", 200, timeout=daemon_process.PROCESS_DEADLINE)
        )
        assert alive["status"] == "ok"
        daemon.wait_for("cycle_completed", cycle=2)
        # The summary line is logged just before the daemon records the cycle: allow a moment.
        deadline = time.monotonic() + 60
        ready = json.loads(_wait_for_status(daemon, port, "/readyz", 200, timeout=60))
        while ready["cycles"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            ready = json.loads(_wait_for_status(daemon, port, "/readyz", 200, timeout=60))
        assert ready["cycles"] >= 2 and ready["last_success_at"]

        status, body = _get(port, "/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        cycles = {s.labels["outcome"]: s.value for s in families["k8s_monitor_cycles"].samples
                  if s.name == "k8s_monitor_cycles_total"}  # fmt: skip
        assert cycles["ok"] + cycles["degraded"] >= 2
        last_success = families["k8s_monitor_last_success_timestamp_seconds"].samples[0].value
        assert abs(time.time() - last_success) < 120
        for name in ("k8s_monitor_cycle_duration_seconds", "k8s_monitor_findings",
                     "k8s_monitor_incidents_open", "k8s_monitor_llm_tokens"):  # fmt: skip
            assert name in families
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output
    with pytest.raises(OSError):
        _get(port, "/healthz")
