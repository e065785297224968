"""What was notified, when and at which level: the memory that keeps notifications from spamming.

Kept as a small JSON file next to the spool, so a restarted pod neither repeats nor forgets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import structlog
from msgspec import Struct, field

from k8s_monitor.analysis.escalation import Sev
from k8s_monitor.analysis.ledger import atomic_write
from k8s_monitor.errors import StorageError

log = structlog.get_logger(__name__)


class Notified(Struct, kw_only=True):
    sev: int
    at: datetime


class DedupState(Struct, kw_only=True):
    notified: dict[str, Notified] = field(default_factory=dict)

    def should_notify(self, fingerprint: str, sev: Sev, now: datetime, cooldown: timedelta) -> bool:
        """First time, a severity rise, or the cooldown has passed."""
        seen = self.notified.get(fingerprint)
        return seen is None or sev.value < seen.sev or now - seen.at >= cooldown

    def mark(self, fingerprint: str, sev: Sev, now: datetime) -> None:
        self.notified[fingerprint] = Notified(sev=sev.value, at=now)

    def forget(self, fingerprint: str) -> Notified | None:
        return self.notified.pop(fingerprint, None)


class DedupStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> DedupState:
        try:
            return msgspec.json.decode(self.path.read_bytes(), type=DedupState)
        except FileNotFoundError:
            return DedupState()
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            # Losing dedup memory means at worst one repeated notice: better than none at all.
            log.warning("notify_state_unreadable", path=str(self.path), error=str(exc))
            return DedupState()

    def save(self, state: DedupState) -> None:
        try:
            atomic_write(self.path, msgspec.json.encode(state))
        except OSError as exc:
            raise StorageError(f"cannot write notification state {self.path}: {exc}") from exc
