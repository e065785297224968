"""What was notified, when and at which level: the memory that keeps notifications from spamming.

Kept as a small JSON file next to the spool, so a restarted pod neither repeats nor forgets.

On disk (``notify-state.json``, schema_version 2), a ``DedupState``:
``{"schema_version": 2, "notified": {fingerprint: Notified}, "alerted": {fingerprint: Alerted}}``
with ``Notified`` = sev (1..4), at, resolved, explained and ``Alerted`` = labels, starts_at, at.
Version 1 had no ``schema_version`` and is otherwise the same; it loads as version 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import structlog
from msgspec import Struct, field

from k8s_monitor.analysis.escalation import Sev
from k8s_monitor.atomicfile import write_atomic
from k8s_monitor.errors import StorageError
from k8s_monitor.notify.messages import Kind, Notification

log = structlog.get_logger(__name__)


# Entries of resolved incidents are kept this long, so a flapping incident stays quiet.
RESOLVED_MEMORY = timedelta(days=1)
SCHEMA_VERSION = 2  # 1: no schema_version field


class Notified(Struct, kw_only=True):
    sev: int
    at: datetime  # when it was last notified
    resolved: bool = False  # a resolved notice went out since
    explained: bool = False  # it carried a root cause from an investigation


class Alerted(Struct, kw_only=True):
    """The labels an incident's alert was last sent to Alertmanager with."""

    labels: dict[str, str]
    starts_at: datetime
    at: datetime  # when it was last sent


class DedupState(Struct, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    notified: dict[str, Notified] = field(default_factory=dict)
    alerted: dict[str, Alerted] = field(default_factory=dict)

    def should_notify(
        self,
        fingerprint: str,
        sev: Sev,
        now: datetime,
        cooldown: timedelta,
        *,
        flapping: bool = False,
    ) -> bool:
        """First time, a severity rise, the cooldown passed, or back after a resolution.

        A flapping incident coming back inside the cooldown stays quiet: paging on every
        bounce is exactly the spam this state exists to prevent.
        """
        seen = self.notified.get(fingerprint)
        if seen is None or now - seen.at >= cooldown:
            return True
        if seen.resolved:
            return not flapping
        return sev.value < seen.sev

    def awaits_root_cause(self, fingerprint: str) -> bool:
        """Paged (and not resolved since) without a root cause: one is worth a follow-up."""
        seen = self.notified.get(fingerprint)
        return seen is not None and not seen.resolved and not seen.explained

    def mark(self, fingerprint: str, sev: Sev, now: datetime, *, explained: bool = False) -> None:
        self.notified[fingerprint] = Notified(sev=sev.value, at=now, explained=explained)

    def mark_explained(self, fingerprint: str) -> None:
        seen = self.notified.get(fingerprint)
        if seen is not None:
            seen.explained = True

    def resolve(self, fingerprint: str) -> Notified | None:
        """The entry to announce as resolved, or None when there is nothing to announce."""
        seen = self.notified.get(fingerprint)
        if seen is None or seen.resolved:
            return None
        seen.resolved = True
        return seen

    def absorb(self, message: Notification) -> None:
        """Count a message from the outbox as notified.

        The outbox is written before the state; a crash between the two leaves a staged
        message the state does not know. Without this, the next cycle plans the same page
        again under a new idempotency key, and the receiver gets it twice.
        """
        for item in message.items:
            seen = self.notified.get(item.fingerprint)
            if message.kind is Kind.RESOLVED:
                if seen is not None:
                    seen.resolved = True
                continue
            if message.kind is Kind.ROOT_CAUSE:
                if seen is not None:
                    seen.explained = True
                continue
            if seen is None or seen.at < message.created_at:
                sev = Sev.parse(item.sev) or Sev(message.sev)
                self.notified[item.fingerprint] = Notified(
                    sev=sev.value, at=message.created_at, explained=bool(item.root_cause)
                )

    def prune(self, now: datetime) -> None:
        for fingerprint, seen in list(self.notified.items()):
            if seen.resolved and now - seen.at >= RESOLVED_MEMORY:
                del self.notified[fingerprint]
        # An alert not refreshed for this long has expired in Alertmanager (its endsAt passed).
        for fingerprint, sent in list(self.alerted.items()):
            if now - sent.at >= RESOLVED_MEMORY:
                del self.alerted[fingerprint]


class DedupStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> DedupState:
        try:
            state = msgspec.json.decode(self.path.read_bytes(), type=DedupState)
        except FileNotFoundError:
            return DedupState()
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            # Losing dedup memory means at worst one repeated notice: better than none at all.
            log.warning("notify_state_unreadable", path=str(self.path), error=str(exc))
            return DedupState()
        return state

    def save(self, state: DedupState) -> None:
        try:
            write_atomic(self.path, msgspec.json.encode(state))
        except OSError as exc:
            raise StorageError(f"cannot write notification state {self.path}: {exc}") from exc
