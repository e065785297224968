"""Bad session files: quarantined and replaced by the newest good backup, or a clear error.

A file that fails to parse, verify or validate is moved aside (``{id}.json.corrupt-{stamp}``)
for post-mortems, never deleted. A newer schema or a missing key is not corruption: such a file
is left untouched and the error says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from k8s_monitor.errors import SessionCorruptError, SessionDecryptError, SessionSchemaError
from k8s_monitor.sessions.codec import Loaded, SessionCodec
from k8s_monitor.sessions.events import EVENT_QUARANTINED, EVENT_RECOVERED, EVENT_UNRECOVERABLE
from k8s_monitor.sessions.store import SessionStore

log = structlog.get_logger(__name__)


class Recovery:
    """Reads that may meet a bad file; ``event`` counts what was done about it."""

    def __init__(
        self, store: SessionStore, codec: SessionCodec, event: Callable[[str], None]
    ) -> None:
        self._store = store
        self._codec = codec
        self._event = event

    def before_first_write(self, session_id: str) -> Loaded | None:
        """The session a first write replaces; a corrupt one is quarantined, None returned.

        A newer schema or an undecryptable file raises: it must never be overwritten.
        """
        try:
            raw = self._store.read(self._store.path(session_id))
            return None if raw is None else self._codec.load(raw)
        except SessionCorruptError as exc:
            # The caller is about to write a good generation; keep the bad one for inspection.
            self._quarantine(session_id, exc)
            return None

    def restore(self, session_id: str, cause: SessionCorruptError) -> Loaded:
        """Quarantine the session file, put the newest good backup in its place; hold the lock."""
        moved = self._quarantine(session_id, cause)
        for backup in self._store.backup_paths(session_id):
            try:
                raw = self._store.read(backup)
                if raw is None:
                    continue
                loaded = self._codec.load(raw)
            except (SessionCorruptError, SessionSchemaError, SessionDecryptError) as exc:
                log.warning("session_backup_invalid", backup=backup.name, reason=str(exc))
                continue
            self._store.write_atomic(self._store.path(session_id), raw)
            self._event(EVENT_RECOVERED)
            log.warning("session_recovered", session_id=session_id, backup=backup.name)
            return loaded
        self._event(EVENT_UNRECOVERABLE)
        where = f"moved to {moved.name}" if moved else "gone"
        raise SessionCorruptError(
            f"session {session_id!r} is corrupt ({cause}); {where}; no valid backup to restore. "
            "The next save starts a new session"
        ) from cause

    def verify(self, session_id: str) -> dict[str, Any]:
        """Read-only check of the file and its backups; never moves or writes anything."""
        status, detail = self._check_file(self._store.path(session_id))
        backups = [self._check_file(p)[0] for p in self._store.backup_paths(session_id)]
        return {
            "session_id": session_id,
            "status": status,
            "detail": detail,
            "backups": len(backups),
            "valid_backups": backups.count("ok"),
        }

    def _check_file(self, path: Path) -> tuple[str, str]:
        try:
            raw = self._store.read(path)
            if raw is None:
                return "missing", ""
            self._codec.decode(raw)
        except SessionCorruptError as exc:
            return "corrupt", str(exc)
        except SessionSchemaError as exc:
            return "newer_schema", str(exc)
        except SessionDecryptError as exc:
            return "cannot_decrypt", str(exc)
        return "ok", ""

    def _quarantine(self, session_id: str, cause: Exception) -> Path | None:
        moved = self._store.quarantine(session_id)
        self._event(EVENT_QUARANTINED)
        log.error(
            "session_quarantined",
            session_id=session_id,
            reason=str(cause),
            moved_to=moved.name if moved else None,
        )
        return moved
