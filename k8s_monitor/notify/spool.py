"""The spool: an outbox of notifications, one file per (sink, message), until delivered.

Every message is written here *before* it is sent and removed once the sink took it, so a crash
between the two re-sends the very same message (same idempotency key) instead of losing it or
building a second one. File names sort by creation time, so retries go out oldest first.

On disk (``<created>-<sink>-<key>.json``, schema_version 2), a ``SpoolEntry``: schema_version,
sink, message (``messages.Notification``, exactly as the webhook sends it), attempts,
rejections, last_error, spooled_at. Version 1 had no ``schema_version``; it loads as version 2
and is written back so at its next update.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec
import structlog
from msgspec import Struct

from k8s_monitor.atomicfile import write_atomic
from k8s_monitor.errors import StorageError
from k8s_monitor.notify.messages import Notification

log = structlog.get_logger(__name__)

MAX_ENTRIES = 1_000
SCHEMA_VERSION = 2  # 1: no schema_version field


class SpoolEntry(Struct, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    sink: str
    message: Notification
    attempts: int = 0
    rejections: int = 0  # 4xx answers: the receiver refused these exact bytes
    last_error: str = ""
    spooled_at: datetime


class Spool:
    def __init__(self, directory: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.directory = directory
        self.max_entries = max_entries

    def _path(self, entry: SpoolEntry) -> Path:
        stamp = entry.message.created_at.strftime("%Y%m%dT%H%M%S%f")
        return self.directory / f"{stamp}-{entry.sink}-{entry.message.key}.json"

    def put(self, entry: SpoolEntry) -> Path:
        """Store ``entry`` durably; the returned path is its handle."""
        path = self._path(entry)
        try:
            write_atomic(path, msgspec.json.encode(entry))
        except OSError as exc:
            raise StorageError(f"cannot spool a notification in {self.directory}: {exc}") from exc
        return path

    def pending(self) -> list[tuple[Path, SpoolEntry]]:
        """Every stored entry, oldest first; unreadable files are set aside, never retried."""
        if not self.directory.is_dir():
            return []
        entries = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                entry = msgspec.json.decode(path.read_bytes(), type=SpoolEntry)
            except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("spool_entry_unreadable", path=str(path), error=str(exc))
                path.replace(path.with_suffix(".corrupt"))
                continue
            entries.append((path, entry))
        return entries

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def update(self, path: Path, entry: SpoolEntry) -> None:
        try:
            write_atomic(path, msgspec.json.encode(entry))
        except OSError as exc:
            raise StorageError(f"cannot update spooled notification {path}: {exc}") from exc

    def __len__(self) -> int:
        return len(list(self.directory.glob("*.json"))) if self.directory.is_dir() else 0

    def trim(self) -> int:
        """Drop the oldest entries beyond ``max_entries``; returns how many were dropped."""
        files = sorted(self.directory.glob("*.json"))
        excess = files[: max(len(files) - self.max_entries, 0)]
        for path in excess:
            log.error("spool_full_dropped_oldest", path=str(path), max_entries=self.max_entries)
            path.unlink(missing_ok=True)
        return len(excess)
