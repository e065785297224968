"""Crash consistency: SIGKILL the daemon at random moments, restart it, check disk every time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.crashloop import kill_loop
from tests.faults.harness import rig


def _assert_consistent(stats, kills: int) -> None:  # type: ignore[no-untyped-def]
    assert stats.kills == kills
    assert stats.problems == []
    assert stats.rounds_with_session >= kills // 2, "the daemon really got to save between kills"
    assert stats.killed_mid_cycle > 0, "some kills landed inside a cycle"
    assert stats.key_duplicates == 0, "a notification was delivered twice with the same key"
    print(json.dumps(stats.__dict__, default=str))


@pytest.mark.xdist_group("crash_kill_loop")
@pytest.mark.timeout(240)
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
