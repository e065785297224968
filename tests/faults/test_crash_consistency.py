"""Crash consistency: SIGKILL the daemon at random moments, restart it, check disk every time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k8s_monitor.wiring import ledger_path
from tests.fakes.anthropic_server import Fault
from tests.faults.crashloop import CrashStats, kill_loop
from tests.faults.harness import rig, session_cycles


def _assert_consistent(stats: CrashStats, kills: int) -> None:
    assert stats.kills == kills
    assert stats.problems == []
    assert stats.rounds_with_session >= kills // 2, "the daemon really got to save between kills"
    assert stats.killed_mid_cycle > 0, "some kills landed inside a cycle"
    assert stats.alert_duplicates == 0, stats.duplicates
    assert stats.notifications > 0
    print(json.dumps(stats.__dict__, default=str))


@pytest.mark.xdist_group("crash_kill_loop")
@pytest.mark.timeout(900)  # generous: twenty restarts take minutes on a loaded machine
def test_sigkill_at_random_moments_keeps_session_ledger_and_notifications_consistent(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        stats = kill_loop(r, kills=20, seed=8)
    _assert_consistent(stats, 20)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sigkill_500_times(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        stats = kill_loop(r, kills=500, seed=88)
    _assert_consistent(stats, 500)


class _Killed(BaseException):
    """Stands in for SIGKILL at one exact instruction: nothing after it runs."""


def _die(*_: object, **__: object) -> None:
    raise _Killed


@pytest.mark.parametrize("where", ["before-delivery", "after-delivery"])
def test_crash_around_delivery_pages_once_per_key_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from k8s_monitor.notify.dedup import DedupStore
    from k8s_monitor.notify.spool import Spool

    with rig(tmp_path) as r:
        first = r.monitor()
        try:
            first.runner.run()
            r.sim.goto(1)  # a crash loop appears: a SEV-2 page is due this cycle
            with monkeypatch.context() as patch:
                if where == "before-delivery":
                    patch.setattr(DedupStore, "save", _die)  # staged, state saved next: die
                else:
                    patch.setattr(Spool, "remove", _die)  # delivered, not yet unstaged: die
                with pytest.raises(_Killed):
                    first.runner.run()
        finally:
            first.close()
        delivered_before_restart = len(r.receiver.received)

        restarted = r.monitor()  # a new process: only what is on disk survives
        try:
            restarted.runner.run()
        finally:
            restarted.close()
        alerts = [x for x in r.receiver.received if x.body["kind"] == "alert"]

    assert delivered_before_restart == (1 if where == "after-delivery" else 0)
    keys_by_incident: dict[tuple[str, str], set[str]] = {}
    for x in alerts:
        for item in x.body["items"]:
            keys_by_incident.setdefault((item["fingerprint"], item["sev"]), set()).add(
                x.headers.get("Idempotency-Key", "")
            )
    assert keys_by_incident, "the page was not lost"
    assert all(len(keys) == 1 for keys in keys_by_incident.values()), keys_by_incident


def test_crash_between_ledger_save_and_dispatch_still_announces_the_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from k8s_monitor.notify.notifier import Notifier

    with rig(tmp_path) as r:
        first = r.monitor()
        try:
            first.runner.run()
            r.sim.goto(1)  # a crash loop: paged
            first.runner.run()
            r.sim.goto(0)  # healthy again: the ledger resolves it, then the process dies
            with monkeypatch.context() as patch:
                patch.setattr(Notifier, "dispatch", _die)
                with pytest.raises(_Killed):
                    first.runner.run()
        finally:
            first.close()
        assert not [x for x in r.receiver.received if x.body["kind"] == "resolved"]

        restarted = r.monitor()  # the ledger on disk already says resolved
        try:
            restarted.runner.run()
            restarted.runner.run()
        finally:
            restarted.close()
        alerted = {
            item["fingerprint"]
            for x in r.receiver.received
            if x.body["kind"] == "alert"
            for item in x.body["items"]
        }
        resolved = [x for x in r.receiver.received if x.body["kind"] == "resolved"]
    assert alerted
    assert len(resolved) == 1, "announced once, after the restart"
    assert {item["fingerprint"] for item in resolved[0].body["items"]} == alerted


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_100_times_with_an_encrypted_session(tmp_path: Path) -> None:
    key = "0DeoJX9t9ujmLZ0LWgbzL3OKmj1u1S7cHBBNbSWaN8Y="
    with rig(tmp_path, session_key=key) as r:
        stats = kill_loop(r, kills=100, seed=808)
    _assert_consistent(stats, 100)


def test_restart_cleans_temp_files_killed_writers_left(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        first = r.monitor()
        try:
            first.runner.run()
        finally:
            first.close()
        ledger_dir = ledger_path(r.settings()).parent
        stale = [
            r.session_dir / ".faults.json.killed01.tmp",
            ledger_dir / f".{ledger_path(r.settings()).name}.killed02.tmp",
            r.settings().spool_dir / ".notify-state.json.killed03.tmp",
        ]
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b'{"half": "writ')
        restarted = r.monitor()
        try:
            restarted.runner.run()
        finally:
            restarted.close()
        assert [p.name for p in stale if p.exists()] == []


@pytest.mark.xdist_group("crash_kill_loop")
def test_sigkill_of_the_real_cli_process_mid_cycle_then_restart(tmp_path: Path) -> None:
    """The same check once through ``python -m k8s_monitor run`` itself, not a fork."""
    import signal
    import time

    from tests.faults.crashloop import check_disk
    from tests.integration.daemon_process import PROCESS_DEADLINE, DaemonProcess

    with rig(tmp_path) as r:
        env = r.env(monitoring_interval_minutes=0.1 / 60)
        first = DaemonProcess(["run"], env, tmp_path)
        try:
            first.wait_for("cycle_completed", cycle=2)
            taken = r.fake.stats.faults
            r.sim.goto(1)
            r.fake.inject(Fault("slow", count=1, delay_seconds=2.0))  # hold the next turn open
            deadline = time.monotonic() + PROCESS_DEADLINE
            while r.fake.stats.faults == taken and time.monotonic() < deadline:
                time.sleep(0.01)
            # That cycle's ledger is saved and its model call is in flight: kill it there.
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=10)
        finally:
            first.stop()
        stats = CrashStats()
        check_disk(r, stats, 0)
        assert stats.problems == []
        killed = r.ledger_cycle()
        session = r.load_session()
        assert session is not None
        assert session_cycles(session)[-1] == killed - 1, "killed between the two saves"
        second = DaemonProcess(["run"], env, tmp_path)
        try:
            done = second.wait_for("cycle_completed")
        finally:
            assert second.stop() == 0, second.output
        check_disk(r, stats, 1)
        assert stats.problems == []
        assert done["cycle"] == killed + 1, "the killed cycle was counted, not repeated"
        session = r.load_session()
        assert session is not None
        assert killed not in session_cycles(session), "the killed cycle left no half turn"
        assert killed + 1 in session_cycles(session)
