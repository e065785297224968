"""Kill -9 a process while it saves: the session on disk is always the old or the new one."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from k8s_monitor.sessions import SessionManager
from tests.integration.session_writer import SESSION_ID, expected

REPO = Path(__file__).resolve().parents[2]


def kill_loop(directory: Path, kills: int, seed: int) -> int:
    """Start, kill and check ``kills`` times; returns how many generations were seen saved."""
    rng = random.Random(seed)
    last_generation = -1
    for round_number in range(kills):
        start = (last_generation + 1) if last_generation >= 0 else 0
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.session_writer", str(directory), str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.12))
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()

        reader = SessionManager(directory, 2_000_000)
        loaded = reader.load_session(SESSION_ID)
        assert reader.events["session_quarantined"] == 0, f"round {round_number}"
        if loaded is None:
            assert last_generation == -1  # nothing was ever saved yet
            continue
        generation = loaded["metadata"]["gen"]
        assert generation >= last_generation
        assert loaded["conversation_history"] == expected(generation)
        last_generation = generation
    # Whatever the kills left behind, taking the lock cleans it up.
    SessionManager(directory).lock(SESSION_ID).release()
    assert not [p for p in directory.rglob("*.tmp")]
    assert len(list((directory / "backups").iterdir())) <= 5
    return last_generation


@pytest.mark.xdist_group("session_crash")
def test_kill_9_while_saving_never_leaves_a_broken_session(tmp_path: Path) -> None:
    generations = kill_loop(tmp_path, kills=20, seed=3)
    assert generations > 0  # the writer really got to save between kills


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_many_times(tmp_path: Path) -> None:
    assert kill_loop(tmp_path, kills=500, seed=11) > 0
