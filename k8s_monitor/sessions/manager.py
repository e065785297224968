"""SessionManager: the seed's API over a durable, locked, verified and optionally encrypted store.

The seed's calls (``save_session``, ``load_session``, ``prune_old_messages``, ``smart_prune``,
``should_prune``, ``delete_session``, ``list_sessions``, ``get_session_stats``) keep their names,
arguments and meaning; everything else is additive. Loading never returns a broken session:
a file that fails to parse, verify or validate is quarantined and the newest good backup is
restored, or a ``SessionCorruptError`` says that none was left.

The manager is the facade: ``store`` keeps the files, ``lock`` who may write them, ``codec``
turns documents into bytes (checksum, encryption), ``recovery`` deals with bad files,
``pruning`` and ``stats`` do the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.errors import SessionCorruptError, StorageError
from k8s_monitor.sessions import schema
from k8s_monitor.sessions.codec import Loaded, SessionCodec
from k8s_monitor.sessions.crypto import SessionCipher, parse_keys, read_key_file
from k8s_monitor.sessions.events import (
    EVENT_BACKUP_FAILED,
    EVENT_LOCK_TAKEN_OVER,
    EVENT_PRUNED,
    EVENT_QUARANTINED,
    EVENT_RECOVERED,
    EVENT_UNRECOVERABLE,
    SESSION_EVENTS,
)
from k8s_monitor.sessions.lock import SessionLock, SessionLocks
from k8s_monitor.sessions.messages import Message
from k8s_monitor.sessions.pruning import (
    DEFAULT_KEYWORDS,
    SMART_KEEP_RECENT,
    KeywordMatcher,
    PrunePolicy,
    PruneResult,
    prune_history,
    simple_prune,
)
from k8s_monitor.sessions.recovery import Recovery
from k8s_monitor.sessions.stats import session_stats
from k8s_monitor.sessions.store import DEFAULT_MAX_FILE_BYTES, SessionStore
from k8s_monitor.sessions.tokens import DEFAULT_CHARS_PER_TOKEN, TokenCounter

if TYPE_CHECKING:
    from k8s_monitor.config import Settings

log = structlog.get_logger(__name__)

# The event names were defined here first; importing them from here still works.
__all__ = [
    "EVENT_BACKUP_FAILED",
    "EVENT_LOCK_TAKEN_OVER",
    "EVENT_PRUNED",
    "EVENT_QUARANTINED",
    "EVENT_RECOVERED",
    "EVENT_UNRECOVERABLE",
    "SESSION_EVENTS",
    "SessionManager",
]

CALIBRATION_KEY = "token_calibration"
_EXACT_COUNT_BAND = 0.1  # ask count_fn only when the estimate is this close to the threshold


@dataclass
class _Known:
    """What the manager keeps of a session between saves."""

    extras: dict[str, Any] = field(default_factory=dict)  # top-level fields it does not own
    state: dict[str, Any] = field(default_factory=dict)
    encrypted: bool = False  # the file on disk is an envelope


class SessionManager:
    """Saves, loads, prunes and inspects sessions in ``session_dir``."""

    def __init__(
        self,
        session_dir: Path = Path("sessions"),
        max_context_tokens: int = 120000,
        *,
        prune_threshold: float = 0.8,
        prune_target_ratio: float = 0.5,
        critical_keywords: Sequence[str] | None = None,
        backups: int = 5,
        encryption_keys: list[str] | None = None,
        token_counter: TokenCounter | None = None,
        on_event: Callable[[str], None] | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_depth: int = schema.MAX_DEPTH,
    ) -> None:
        if max_context_tokens <= 0:
            raise ValueError("max_context_tokens must be positive")
        if not 0 < prune_threshold <= 1 or not 0 < prune_target_ratio < 1:
            raise ValueError("prune_threshold must be in (0, 1] and prune_target_ratio in (0, 1)")
        self.session_dir = Path(session_dir)
        self.max_context_tokens = max_context_tokens
        self.prune_threshold = prune_threshold
        # Hysteresis only works below the trigger; a target above it would prune every cycle.
        self.prune_target_ratio = min(prune_target_ratio, prune_threshold)
        self.critical_keywords = tuple(
            DEFAULT_KEYWORDS if critical_keywords is None else critical_keywords
        )
        self.token_counter = token_counter or TokenCounter()
        # Room for one full history: a prune never asks about more text than that.
        self._matcher = KeywordMatcher(
            self.critical_keywords,
            cache_chars=int(max_context_tokens * DEFAULT_CHARS_PER_TOKEN),
        )
        self.events: Counter[str] = Counter()
        self.on_event = on_event
        self.max_depth = max_depth
        self._store = SessionStore(self.session_dir, backups=backups, max_file_bytes=max_file_bytes)
        cipher = SessionCipher(encryption_keys) if encryption_keys else None
        self._codec = SessionCodec(cipher, max_depth=max_depth)
        self._recovery = Recovery(self._store, self._codec, self._event)
        self._locks = SessionLocks(self._store, lambda: self._event(EVENT_LOCK_TAKEN_OVER))
        # Sessions this manager has read or checked on disk: a first write is checked against
        # the file, later ones are not.
        self._known: dict[str, _Known] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        token_counter: TokenCounter | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> SessionManager:
        keys: list[str] = []
        if settings.session_encryption_key is not None:
            keys.extend(parse_keys(settings.session_encryption_key.get_secret_value()))
        if settings.session_encryption_key_file is not None:
            keys.extend(read_key_file(settings.session_encryption_key_file))
        return cls(
            settings.session_dir,
            settings.max_context_tokens,
            prune_threshold=settings.context_prune_threshold,
            prune_target_ratio=settings.prune_target_ratio,
            critical_keywords=settings.critical_keywords,
            backups=settings.session_backups,
            encryption_keys=keys or None,
            token_counter=token_counter,
            on_event=on_event,
        )

    # --- derived budgets ------------------------------------------------------------------

    @property
    def threshold_tokens(self) -> int:
        return int(self.max_context_tokens * self.prune_threshold)

    @property
    def target_tokens(self) -> int:
        return int(self.max_context_tokens * self.prune_target_ratio)

    @property
    def encrypts(self) -> bool:
        return self._codec.encrypts

    # --- locking --------------------------------------------------------------------------

    def lock(self, session_id: str) -> SessionLock:
        """Hold the session for this process (a daemon's lifetime); raises SessionLockedError."""
        return self._locks.hold(schema.validate_session_id(session_id))

    acquire_lock = lock

    def release(self, session_id: str) -> None:
        self._locks.release(session_id)

    # --- the seed's API -------------------------------------------------------------------

    def save_session(
        self,
        session_id: str,
        conversation_history: list[Message],
        metadata: dict[str, Any],
        *,
        state: dict[str, Any] | None = None,
    ) -> Path:
        """Write the session atomically; on failure the previous file is intact."""
        schema.validate_session_id(session_id)
        with self._locks.writing(session_id):
            self._check_existing(session_id)
            known = self._known[session_id]  # set by _check_existing
            state_out = dict(known.state if state is None else state)
            if self.token_counter.samples > 0:
                state_out[CALIBRATION_KEY] = self.token_counter.to_state()
            document: dict[str, Any] = {
                "schema_version": schema.SCHEMA_VERSION,
                "session_id": session_id,
                "saved_at": datetime.now(UTC).isoformat(),
                "conversation_history": conversation_history,
                "metadata": metadata,
                "state": state_out,
                **known.extras,
            }
            self._write_document(session_id, document)
            known.state = state_out
        return self._store.path(session_id)

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The session (with ``state``, ``{}`` when absent), or None when there is none."""
        schema.validate_session_id(session_id)
        try:
            raw = self._store.read(self._store.path(session_id))
            if raw is None:
                return None
            loaded = self._codec.load(raw)
        except SessionCorruptError as exc:
            with self._locks.writing(session_id):
                loaded = self._recovery.restore(session_id, exc)
        self._remember(session_id, loaded)
        return loaded.document

    def read_session(self, session_id: str) -> dict[str, Any] | None:
        """The session as on disk, for readers beside the daemon (``ask``, ``mcp``).

        Takes no lock and writes nothing: a corrupt file raises ``SessionCorruptError``
        instead of being quarantined and recovered (that is the daemon's job).
        """
        schema.validate_session_id(session_id)
        raw = self._store.read(self._store.path(session_id))
        return None if raw is None else self._codec.decode(raw)

    def prune_old_messages(
        self, history: list[Message], max_tokens: int | None = None
    ) -> list[Message]:
        """System messages plus the latest 50 others, never above ``max_tokens``."""
        budget = self.max_context_tokens if max_tokens is None else max_tokens
        return simple_prune(history, self.token_counter, max_tokens=budget)

    def smart_prune(self, history: list[Message], ledger: Ledger | None = None) -> list[Message]:
        """System, critical and the latest 30 messages, in order, compacted, within target."""
        return self.prune_to_budget(history, ledger=ledger).history

    def prune_to_budget(
        self, history: list[Message], *, ledger: Ledger | None = None
    ) -> PruneResult:
        policy = PrunePolicy(
            target_tokens=self.target_tokens,
            keep_recent=SMART_KEEP_RECENT,
            keywords=self.critical_keywords,
        )
        result = prune_history(
            history, policy, self.token_counter, ledger, matcher=self._matcher or None
        )
        self._event(EVENT_PRUNED)
        log.info(
            "session_pruned",
            dropped=result.dropped_count,
            compacted=result.compacted,
            tokens_before=result.tokens_before,
            tokens_after=result.tokens_after,
        )
        return result

    def should_prune(self, history: list[Message]) -> bool:
        """True at ``max_context_tokens * prune_threshold``; near it, ask count_fn if any."""
        estimate = self.token_counter.count(history)
        threshold = self.threshold_tokens
        near = abs(estimate - threshold) <= threshold * _EXACT_COUNT_BAND
        if near and self.token_counter.count_fn is not None:
            return self.token_counter.count_exact(history) >= threshold
        return estimate >= threshold

    def delete_session(self, session_id: str) -> bool:
        """Remove the session and its backups; False when it did not exist."""
        schema.validate_session_id(session_id)
        with self._locks.writing(session_id):
            removed = self._store.delete(session_id)
        self._known.pop(session_id, None)
        return removed

    def list_sessions(self) -> list[str]:
        return [sid for sid in self._store.ids() if schema.SESSION_ID_PATTERN.fullmatch(sid)]

    def get_session_stats(self, session_id: str) -> dict[str, Any] | None:
        document = self.load_session(session_id)
        if document is None:
            return None
        path = self._store.path(session_id)
        return session_stats(
            session_id,
            document,
            counter=self.token_counter,
            max_context_tokens=self.max_context_tokens,
            threshold_tokens=self.threshold_tokens,
            encrypted=self._known[session_id].encrypted,  # the load above set it
            file_bytes=path.stat().st_size if path.exists() else 0,
            backups=len(self._store.backup_paths(session_id)),
        )

    # --- token accounting -----------------------------------------------------------------

    def count_tokens(self, history: list[Message]) -> int:
        return self.token_counter.count(history)

    def calibrate(self, sent_history: list[Message], actual_input_tokens: int) -> float:
        """Feed the API's exact ``usage`` for ``sent_history``; persisted on the next save."""
        return self.token_counter.calibrate(sent_history, actual_input_tokens)

    # --- operator helpers (CLI) -----------------------------------------------------------

    def verify_session(self, session_id: str) -> dict[str, Any]:
        """Read-only check of the file and its backups; never moves or writes anything."""
        return self._recovery.verify(schema.validate_session_id(session_id))

    def export_session(self, session_id: str) -> dict[str, Any] | None:
        """The decrypted document, as an operator would move it elsewhere."""
        return self.load_session(session_id)

    def import_session(
        self, document: dict[str, Any], *, session_id: str | None = None, replace: bool = False
    ) -> str:
        """Validate an exported document and save it (encrypted if keys are configured)."""
        document = schema.validate(dict(document))
        target = schema.validate_session_id(session_id or document["session_id"])
        with self._locks.writing(target):
            self._check_existing(target)
            if not replace and self._store.path(target).exists():
                raise StorageError(f"session {target!r} exists; pass replace to overwrite it")
            document["session_id"] = target
            document["saved_at"] = datetime.now(UTC).isoformat()
            self._write_document(target, document)
            self._remember(target, Loaded(document, encrypted=self.encrypts))
        return target

    # --- internals ------------------------------------------------------------------------

    def _write_document(self, session_id: str, document: dict[str, Any]) -> None:
        data = self._codec.encode(session_id, document)
        self._store.write_atomic(self._store.path(session_id), data)
        self._known.setdefault(session_id, _Known()).encrypted = self._codec.encrypts
        try:
            self._store.add_backup(session_id, data)
        except StorageError as exc:
            # The session itself is safely on disk; a missing backup is worth a warning only.
            self._event(EVENT_BACKUP_FAILED)
            log.warning("session_backup_failed", session_id=session_id, error=str(exc))

    def _remember(self, session_id: str, loaded: Loaded) -> None:
        document = loaded.document
        self._known[session_id] = _Known(
            extras=schema.extras_of(document),
            state=document["state"],
            encrypted=loaded.encrypted,
        )
        calibration = document["state"].get(CALIBRATION_KEY)
        if isinstance(calibration, dict):
            self.token_counter.load_state(calibration)

    def _check_existing(self, session_id: str) -> None:
        """Before the first write: never overwrite a newer or undecryptable session."""
        if session_id in self._known:
            return
        existing = self._recovery.before_first_write(session_id)
        if existing is not None:
            self._remember(session_id, existing)
        else:
            self._known[session_id] = _Known()

    def _event(self, name: str) -> None:
        self.events[name] += 1
        if self.on_event is not None:
            self.on_event(name)
