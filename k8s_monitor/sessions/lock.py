"""One advisory lock per session, so two processes never write the same session.

``flock`` on ``{session_dir}/{id}.lock``; the kernel drops it when the holder dies, so a crashed
daemon never blocks its successor. The file records who holds it (pid, host, since) for the
refusal message. If the lock is busy but names a dead process on this host (a child inherited
the descriptor and outlived it), the file is replaced and the lock taken over.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import structlog

from k8s_monitor.errors import SessionLockedError, StorageError
from k8s_monitor.sessions.store import SessionStore

log = structlog.get_logger(__name__)


class SessionLock:
    """An exclusive, non-blocking lock; usable as a context manager."""

    def __init__(self, path: Path, session_id: str) -> None:
        self.path = path
        self.session_id = session_id
        self._fd: int | None = None
        self.took_over = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> SessionLock:
        """Take the lock or raise ``SessionLockedError`` naming the holder."""
        if self._fd is not None:
            return self
        for attempt in range(2):
            fd = _open(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_holder(self.path)
                os.close(fd)
                if attempt == 0 and _is_dead_local(holder):
                    log.warning(
                        "session_lock_stale_taken_over",
                        session_id=self.session_id,
                        stale_pid=holder.get("pid"),
                    )
                    # A new inode: whoever still has the old one locks nothing we use.
                    with suppress(FileNotFoundError):
                        self.path.unlink()
                    self.took_over = True
                    continue
                raise SessionLockedError(_refusal(self.session_id, holder)) from None
            except OSError as exc:
                os.close(fd)
                raise StorageError(f"cannot lock session {self.session_id!r}: {exc}") from exc
            if not _same_file(fd, self.path):
                # Another process replaced the file between our open and flock; retry once.
                os.close(fd)
                continue
            self._fd = fd
            _record_holder(fd)
            return self
        raise SessionLockedError(_refusal(self.session_id, read_holder(self.path)))

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock

    def __enter__(self) -> SessionLock:
        return self.acquire()

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.release()


class SessionLocks:
    """The locks one process takes in a session directory: for its lifetime, or for one write.

    Taking a lock clears the temp files a killed writer left; taking one over is reported.
    """

    def __init__(self, store: SessionStore, on_take_over: Callable[[], None]) -> None:
        self._store = store
        self._on_take_over = on_take_over
        self._held: dict[str, SessionLock] = {}

    def hold(self, session_id: str) -> SessionLock:
        current = self._held.get(session_id)
        if current is not None and current.held:
            return current
        self._store.ensure_root()
        handle = SessionLock(self._store.lock_path(session_id), session_id).acquire()
        if handle.took_over:
            self._on_take_over()
        self._held[session_id] = handle
        self._store.remove_stale_temps(session_id)
        return handle

    def release(self, session_id: str) -> None:
        handle = self._held.pop(session_id, None)
        if handle is not None:
            handle.release()

    @contextmanager
    def writing(self, session_id: str) -> Iterator[None]:
        """Under the lock held for the session, or under one taken for this write."""
        held = self._held.get(session_id)
        if held is not None and held.held:
            yield
            return
        self._store.ensure_root()
        with SessionLock(self._store.lock_path(session_id), session_id) as handle:
            if handle.took_over:
                self._on_take_over()
            self._store.remove_stale_temps(session_id)
            yield


def read_holder(path: Path) -> dict[str, Any]:
    """Who the lock file says holds it; ``{}`` when unknown."""
    try:
        raw = path.read_bytes()[:4096]
        holder = orjson.loads(raw) if raw else {}
    except (OSError, orjson.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot open lock file {str(path)!r}: {exc}") from exc


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), path.stat())
    except FileNotFoundError:
        return False


def _record_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(),
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(holder), 0)
    except OSError as exc:
        # The lock itself is held; only the courtesy record failed.
        log.warning("session_lock_record_failed", error=str(exc))


def _is_dead_local(holder: dict[str, Any]) -> bool:
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _refusal(session_id: str, holder: dict[str, Any]) -> str:
    who = (
        f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')}"
        if holder
        else "another process (holder unknown)"
    )
    return f"session {session_id!r} is locked by {who}; is another k8s-monitor running?"
