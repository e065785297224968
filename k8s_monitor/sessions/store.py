"""Files of the session directory: atomic writes, backups ring, quarantine, temp clean-up.

Layout under ``session_dir``::

    {id}.json                         the session (plaintext JSON or encrypted envelope)
    {id}.lock                         advisory lock (see ``lock.py``)
    {id}.json.corrupt-{UTC stamp}     a quarantined file, kept for post-mortems
    .{id}.json.{random}.tmp           a write in progress (gone unless the writer was killed)
    backups/{id}.{ns:020d}.json       the last N good generations, newest last
"""

from __future__ import annotations

import os
import re
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import structlog

from k8s_monitor.atomicfile import fsync_dir, write_atomic
from k8s_monitor.errors import SessionCorruptError, StorageError

log = structlog.get_logger(__name__)

SUFFIX = ".json"
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
# Other stages keep per-session files beside the session (the incident ledger).
_NOT_SESSIONS = (".ledger.json",)


class SessionStore:
    """Raw bytes in and out; knows nothing of the format beyond file names."""

    def __init__(
        self, root: Path, *, backups: int = 5, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> None:
        self.root = root
        self.backup_dir = root / "backups"
        self.backups = backups
        self.max_file_bytes = max_file_bytes

    # --- paths ---------------------------------------------------------------------------

    def path(self, session_id: str) -> Path:
        return self.root / f"{session_id}{SUFFIX}"

    def lock_path(self, session_id: str) -> Path:
        return self.root / f"{session_id}.lock"

    def ids(self) -> list[str]:
        try:
            names = [entry.name for entry in self.root.iterdir()]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list {str(self.root)!r}: {exc}") from exc
        return sorted(
            n[: -len(SUFFIX)]
            for n in names
            if n.endswith(SUFFIX) and n[0] != "." and not n.endswith(_NOT_SESSIONS)
        )

    # --- reading -------------------------------------------------------------------------

    def read(self, path: Path) -> bytes | None:
        """The file's bytes, ``None`` when absent; oversized files are corrupt, unread."""
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > self.max_file_bytes:
                    raise SessionCorruptError(
                        f"{path.name} is {size} bytes, over the {self.max_file_bytes} byte limit"
                    )
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {str(path)!r}: {exc}") from exc

    # --- writing -------------------------------------------------------------------------

    def ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {str(self.root)!r}: {exc}") from exc

    def write_atomic(self, path: Path, data: bytes, *, durable: bool = True) -> None:
        """All or nothing: the old file stays whole until the new one is complete on disk."""
        if len(data) > self.max_file_bytes:
            raise StorageError(
                f"refusing to write {len(data)} bytes to {path.name}: over the "
                f"{self.max_file_bytes} byte limit"
            )
        write_atomic(path, data, durable=durable)

    def remove_stale_temps(self, session_id: str) -> int:
        """Temp files a killed writer left; only call while holding the session's lock."""
        escaped = re.escape(session_id)
        pattern = re.compile(rf"\.{escaped}(\.\d{{20}})?{re.escape(SUFFIX)}\.[^.]+\.tmp")
        removed = 0
        for directory in (self.root, self.backup_dir):
            with suppress(FileNotFoundError):
                for entry in directory.iterdir():
                    if pattern.fullmatch(entry.name):
                        with suppress(FileNotFoundError):
                            entry.unlink()
                            removed += 1
        return removed

    # --- backups -------------------------------------------------------------------------

    def backup_paths(self, session_id: str) -> list[Path]:
        """Newest first."""
        pattern = re.compile(rf"{re.escape(session_id)}\.(\d{{20}}){re.escape(SUFFIX)}")
        try:
            names = [e.name for e in self.backup_dir.iterdir() if pattern.fullmatch(e.name)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list backups: {exc}") from exc
        return [self.backup_dir / n for n in sorted(names, reverse=True)]

    def add_backup(self, session_id: str, data: bytes) -> None:
        """Keep ``data`` as the newest generation and trim the ring.

        Not fsynced: a torn backup fails its checksum and is skipped, and the session file
        itself was made durable already.
        """
        if self.backups <= 0:
            return
        try:
            self.backup_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {str(self.backup_dir)!r}: {exc}") from exc
        existing = self.backup_paths(session_id)
        stamp = time_ns_after(existing)
        target = self.backup_dir / f"{session_id}.{stamp:020d}{SUFFIX}"
        self.write_atomic(target, data, durable=False)
        for old in [target, *existing][self.backups :]:
            with suppress(FileNotFoundError):
                old.unlink()

    # --- quarantine and deletion ----------------------------------------------------------

    def quarantine(self, session_id: str) -> Path | None:
        """Move the session file aside; ``None`` if it vanished meanwhile."""
        source = self.path(session_id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = source.with_name(f"{source.name}.corrupt-{stamp}")
        try:
            source.replace(target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot quarantine {str(source)!r}: {exc}") from exc
        fsync_dir(self.root)
        return target

    def delete(self, session_id: str) -> bool:
        removed = False
        for path in [self.path(session_id), *self.backup_paths(session_id)]:
            try:
                path.unlink()
                removed = removed or path == self.path(session_id)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot delete {str(path)!r}: {exc}") from exc
        fsync_dir(self.root)
        return removed


def time_ns_after(existing: list[Path]) -> int:
    """A generation stamp greater than every existing one, even if the clock stepped back."""
    now = time.time_ns()
    if existing:
        newest = int(existing[0].name.rsplit(".", 2)[-2])
        now = max(now, newest + 1)
    return now
