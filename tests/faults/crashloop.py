"""SIGKILL the daemon at random moments, restart it, and check what it left on disk each time.

Used by the crash-consistency tests (20 kills fast, 500 slow). One simulator, one fake model
and one webhook receiver serve every round; the daemon runs persistent cycles back to back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import clean_env
from tests.faults.harness import SESSION_ID, Rig, session_cycles, turn_problems
from tests.integration.daemon_process import PROCESS_DEADLINE

REPO = Path(__file__).resolve().parents[2]
INTERVAL_MINUTES = 0.1 / 60  # back-to-back cycles: the scheduler coalesces what it cannot run
STARTUP_KILLS = 0.15  # share of kills that land before the daemon is up
# Share of the other kills timed from the round's first saved cycle rather than from start-up.
# Delays are wall-clock: on a busy machine a cycle can outlast every delay drawn from start-up,
# and no round would ever save. Anchoring some kills on an event keeps saves in the mix at any
# speed; the delay after the anchor still lands them at random moments of the cycles that follow.
AFTER_A_SAVE = 0.5


@dataclass
class CrashStats:
    kills: int = 0
    rounds_with_session: int = 0
    max_cycle: int = 0
    killed_mid_cycle: int = 0
    killed_at_startup: int = 0
    lost_cycles: int = 0  # cycles in the ledger whose turn never reached the session
    leftover_temps: int = 0  # temp files of killed writers nobody cleans up
    key_redeliveries: int = 0  # same key again: a crash between delivery and unstaging
    alert_duplicates: int = 0  # the same page under two keys: what receivers cannot dedupe
    notifications: int = 0
    problems: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class ForkServer:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.forkserver"],
            env={**clean_env(LOG_FORMAT="json", **env), "PYTHONPATH": str(REPO)},
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _send(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def spawn(self, log_path: Path) -> int:
        return int(self._send(f"spawn {log_path}"))

    def kill(self, pid: int) -> int:
        os.kill(pid, signal.SIGKILL)
        return int(self._send(f"wait {pid}"))

    def close(self) -> None:
        """Ask the server to quit; tearing down its interpreter can take a while on a busy box."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=PROCESS_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise


def _events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _wait_logged(path: Path, event: str, timeout: float = PROCESS_DEADLINE) -> None:
    needle = f'"event":"{event}"'.encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_bytes():
            return
        time.sleep(0.01)
    tail = path.read_text(errors="replace")[-3000:]
    raise AssertionError(f"daemon never logged {event}:\n{tail}")


def _advance_forever(rig: Rig, stop: threading.Event, period: float) -> None:
    while not stop.wait(period):
        rig.sim.goto((rig.sim.step + 1) % rig.sim.step_count)


def check_disk(rig: Rig, stats: CrashStats, round_number: int) -> None:
    """The invariants after a kill: loads, no corruption, turns whole, ledger ahead of session."""
    reader = rig.reader()
    session = reader.load_session(SESSION_ID)
    where = f"round {round_number}"
    if reader.events["session_quarantined"] or reader.events["session_recovered"]:
        stats.problems.append(f"{where}: session was corrupt ({dict(reader.events)})")
    corrupt = [p.name for p in rig.session_dir.glob("*corrupt*")]
    if corrupt:
        stats.problems.append(f"{where}: corrupt files {corrupt}")
    if session is None:
        return
    stats.rounds_with_session += 1
    stats.problems.extend(f"{where}: {p}" for p in turn_problems(session))
    cycles = session_cycles(session)
    if cycles != sorted(set(cycles)):
        stats.problems.append(f"{where}: session cycles out of order or repeated: {cycles}")
    ledger = rig.ledger_cycle()
    if cycles and ledger < cycles[-1]:
        stats.problems.append(f"{where}: ledger cycle {ledger} behind session cycle {cycles[-1]}")
    if cycles:
        stats.max_cycle = max(stats.max_cycle, cycles[-1])


def check_notifications(rig: Rig, stats: CrashStats) -> None:
    """Deduplicated by idempotency key, no alert repeats for an incident before it resolved."""
    received = list(rig.receiver.received)
    stats.notifications = len(received)
    keys = Counter(r.headers.get("Idempotency-Key", "") for r in received)
    stats.key_redeliveries = sum(n - 1 for n in keys.values() if n > 1)
    unique = {r.headers.get("Idempotency-Key", ""): r for r in received}
    alerted: dict[str, tuple[str, int]] = {}
    for item in unique.values():
        body = item.body
        for entry in body.get("items", []):
            fingerprint, sev = entry["fingerprint"], entry["sev"]
            if body["kind"] == "resolved":
                alerted.pop(fingerprint, None)
            elif body["kind"] == "alert":
                previous = alerted.get(fingerprint)
                if previous is not None and previous[0] == sev:
                    stats.alert_duplicates += 1
                    stats.duplicates.append(
                        f"{entry['reason']} {entry['subject']} {sev}: cycle {previous[1]} "
                        f"and again in cycle {body['cycle']} (status {entry['status']})"
                    )
                alerted[fingerprint] = (sev, body["cycle"])


def kill_loop(rig: Rig, kills: int, seed: int, *, max_delay: float = 1.2) -> CrashStats:
    rng = random.Random(seed)
    stats = CrashStats()
    logs = rig.root / "daemon-logs"
    logs.mkdir(exist_ok=True)
    env = rig.env(monitoring_interval_minutes=INTERVAL_MINUTES, log_level="INFO")
    server = ForkServer(env, rig.root)
    stop = threading.Event()
    advancer = threading.Thread(target=_advance_forever, args=(rig, stop, 0.35), daemon=True)
    advancer.start()
    try:
        for round_number in range(kills):
            log_path = logs / f"round-{round_number:04d}.log"
            pid = server.spawn(log_path)
            if rng.random() < STARTUP_KILLS:
                time.sleep(rng.uniform(0.0, 0.2))  # while it loads, locks, cleans up
                stats.killed_at_startup += 1
            else:
                _wait_logged(log_path, "daemon_started")
                if rng.random() < AFTER_A_SAVE:
                    _wait_logged(log_path, "cycle_completed")
                time.sleep(rng.uniform(0.0, max_delay))
            server.kill(pid)
            stats.kills += 1
            events = [e.get("event") for e in _events(log_path)]
            if events.count("cycle_started") > events.count("cycle_completed"):
                stats.killed_mid_cycle += 1
            check_disk(rig, stats, round_number)
    finally:
        stop.set()
        advancer.join(timeout=5)
        server.close()
    stats.leftover_temps = len(list(rig.session_dir.rglob("*.tmp")))
    session = rig.load_session()
    kept = sorted(set(session_cycles(session))) if session is not None else []
    if kept:
        # Cycles the ledger counted whose turn is missing from the range the session still
        # holds (older ones were pruned on purpose): killed between the two saves.
        stats.lost_cycles = rig.ledger_cycle() - kept[0] + 1 - len(kept)
    check_notifications(rig, stats)
    return stats
