"""The per-session advisory lock: one writer per session, across processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from k8s_monitor.errors import SessionLockedError
from k8s_monitor.sessions import SessionManager
from tests.unit.sessions.helpers import history_of

HOLDER = """
import sys, time
from pathlib import Path
from k8s_monitor.sessions import SessionManager
SessionManager(Path(sys.argv[1])).lock("s")
print("locked", flush=True)
time.sleep(60)
"""

FAKE_HOLDER = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": int(sys.argv[2]), "host": sys.argv[3]}).encode())
print("locked", flush=True)
time.sleep(60)
"""


def start(script: str, *args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait(timeout=10)
    if child.stdout is not None:
        child.stdout.close()


def test_a_second_process_is_refused_with_the_holders_pid_and_host(tmp_path: Path) -> None:
    child = start(HOLDER, str(tmp_path))
    try:
        mgr = SessionManager(tmp_path)
        with pytest.raises(SessionLockedError) as caught:
            mgr.lock("s")
        assert f"pid {child.pid}" in str(caught.value)
        assert socket.gethostname() in str(caught.value)
        with pytest.raises(SessionLockedError):
            mgr.save_session("s", history_of(1), {})
        assert mgr.load_session("s") is None  # reading needs no lock
    finally:
        stop(child)
    handle = SessionManager(tmp_path).lock("s")  # the kernel released the dead holder's lock
    assert handle.held
    handle.release()


def test_two_managers_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first = SessionManager(tmp_path)
    with first.lock("s"):
        first.save_session("s", history_of(1), {})  # the holder writes freely
        with pytest.raises(SessionLockedError, match=f"pid {os.getpid()}"):
            SessionManager(tmp_path).save_session("s", history_of(2), {})
    SessionManager(tmp_path).save_session("s", history_of(2), {})


def test_a_lock_naming_a_dead_local_pid_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    child = start(FAKE_HOLDER, str(tmp_path / "s.lock"), str(dead.pid), socket.gethostname())
    try:
        mgr = SessionManager(tmp_path)
        handle = mgr.lock("s")
        assert handle.took_over and mgr.events["session_lock_taken_over"] == 1
        handle.release()
    finally:
        stop(child)


def test_a_live_holder_on_another_host_is_respected(tmp_path: Path) -> None:
    child = start(FAKE_HOLDER, str(tmp_path / "s.lock"), "999999", "some-other-host")
    try:
        with pytest.raises(SessionLockedError, match="some-other-host"):
            SessionManager(tmp_path).lock("s")
    finally:
        stop(child)


def test_stale_temp_files_are_removed_when_the_lock_is_taken(tmp_path: Path) -> None:
    SessionManager(tmp_path).save_session("s", history_of(1), {})
    leftover = tmp_path / ".s.json.abc123.tmp"
    leftover.write_bytes(b"partial")
    other = tmp_path / ".s2.json.abc123.tmp"
    other.write_bytes(b"not ours")
    backup_leftover = tmp_path / "backups" / ".s.01234567890123456789.json.xyz.tmp"
    backup_leftover.write_bytes(b"partial")
    SessionManager(tmp_path).lock("s").release()
    assert not leftover.exists() and not backup_leftover.exists() and other.exists()
