"""Replacing a file all at once: every piece of state the monitor keeps on disk relies on it.

A reader (or the next process after a crash) sees the old file or the new one, never half of
either: the new bytes go to a temp file in the same directory, are flushed and fsynced, renamed
over the old name, and the directory is fsynced so the rename itself survives a power cut. A
writer killed mid-write can leave its temp file behind; ``remove_stale_temps`` clears those at
start-up, under the session lock.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

from k8s_monitor.errors import StorageError

TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data``; ``StorageError`` leaves the old file as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX
        )
    except OSError as exc:
        raise StorageError(f"cannot create a temp file in {str(path.parent)!r}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except BaseException as exc:
        with suppress(OSError):
            Path(temp_name).unlink()
        if isinstance(exc, OSError):
            raise StorageError(f"cannot write {str(path)!r}: {exc}") from exc
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; a directory that cannot be opened (some filesystems) is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        raise StorageError(f"cannot fsync {str(directory)!r}: {exc}") from exc
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path, name: str | None = None) -> int:
    """Delete temp files a killed writer left in ``directory``; returns how many.

    ``name`` limits it to the temps of one file (a folder several sessions share). Only call
    while no other process can be writing them (the daemon holds the session lock).
    """
    pattern = f".{name}.*{TEMP_SUFFIX}" if name else f".*{TEMP_SUFFIX}"
    removed = 0
    with suppress(FileNotFoundError):
        for candidate in directory.glob(pattern):
            with suppress(FileNotFoundError):
                candidate.unlink()
                removed += 1
    return removed
