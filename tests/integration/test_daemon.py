"""The daemon as users run it: a real subprocess, the simulator, signals."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_monitor.sessions import SessionManager
from k8s_monitor.sim import SimServer, load_scenario
from tests.integration.daemon_process import DaemonProcess


@pytest.fixture
def sim(tmp_path: Path):  # type: ignore[no-untyped-def]
    with SimServer(load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        server.write_kubeconfig(tmp_path / "kubeconfig", token="daemon-test")
        yield server


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "SESSION_DIR": str(tmp_path / "sessions"),
        "REPORT_DIR": str(tmp_path / "reports"),
        "ENABLE_LONG_CONTEXT": "true",
        "SESSION_ID": "daemon-test",
        "LLM_PROVIDER": "offline",
        "METRICS_PORT": "0",
        # A turn every cycle: these tests follow the session cycle by cycle.
        "LLM_CALL_POLICY": "every-cycle",
        **extra,
    }


def test_cycles_never_overlap(sim: SimServer, tmp_path: Path) -> None:
    # Each cycle takes longer than the interval: the scheduler must coalesce, not pile up.
    sim.faults.set(resource="pods", delay_seconds=0.8)
    daemon = DaemonProcess(["run"], _env(tmp_path, MONITORING_INTERVAL_MINUTES="0.005"), tmp_path)
    try:
        daemon.wait_for("cycle_completed", cycle=3)
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output
    sequence = [
        e["event"] for e in daemon.events if e.get("event") in {"cycle_started", "cycle_completed"}
    ]
    for started, completed in zip(sequence[::2], sequence[1::2], strict=False):
        assert (started, completed) == ("cycle_started", "cycle_completed"), sequence
    cycles = [e["cycle"] for e in daemon.events if e.get("event") == "cycle_started"]
    assert cycles == sorted(set(cycles)), "each cycle number runs once, in order"


def test_sigterm_during_a_cycle_finishes_it_and_exits_0(sim: SimServer, tmp_path: Path) -> None:
    daemon = DaemonProcess(["run"], _env(tmp_path, MONITORING_INTERVAL_MINUTES="0.02"), tmp_path)
    try:
        daemon.wait_for("cycle_completed", cycle=1)
        sim.faults.set(resource="pods", delay_seconds=2.0)  # the next cycle is slow
        daemon.wait_for("cycle_started", cycle=2)
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output
    events = [e["event"] for e in daemon.events]
    assert "daemon_stopped" in events
    completed = [e for e in daemon.events if e.get("event") == "cycle_completed"]
    assert [e["cycle"] for e in completed] == [1, 2], "the running cycle was allowed to finish"
    session = SessionManager(tmp_path / "sessions").load_session("daemon-test")
    assert session is not None
    cycles = [m.get("meta", {}).get("cycle") for m in session["conversation_history"]]
    assert 2 in cycles, "the interrupted cycle's turn was saved"


def test_second_daemon_on_the_same_session_is_refused(sim: SimServer, tmp_path: Path) -> None:
    first = DaemonProcess(["run"], _env(tmp_path), tmp_path)
    try:
        first.wait_for("cycle_completed", cycle=1)
        # The refusal comes only after the second interpreter has imported the daemon: seconds
        # of CPU, much longer on a busy machine. wait() also drains its output before we read it.
        second = DaemonProcess(["run"], _env(tmp_path), tmp_path)
        code = second.wait()
        assert code != 0
        assert "lock" in second.output.lower(), second.output
        assert "pid" in second.output.lower(), second.output
    finally:
        assert first.stop() == 0
