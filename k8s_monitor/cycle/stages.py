"""What a cycle runs through: the long-lived parts, built once by the daemon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from k8s_monitor.analysis.escalation import Escalation
from k8s_monitor.analysis.incidents import Incident
from k8s_monitor.analysis.ledger import LedgerStore
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import Settings
from k8s_monitor.converse import Conversation
from k8s_monitor.investigate import EvidenceReads
from k8s_monitor.notify import DispatchResult, NotificationContext
from k8s_monitor.redaction import Redactor

if TYPE_CHECKING:
    from k8s_monitor.metrics import Metrics


class SnapshotSource(Protocol):
    def collect(self, *, now: datetime, since: datetime | None) -> ClusterSnapshot: ...


class Dispatcher(Protocol):
    def dispatch(
        self,
        escalations: list[Escalation],
        *,
        resolved: list[Incident],
        context: NotificationContext,
        early: bool = False,
    ) -> DispatchResult: ...


class Beat(Protocol):
    def beat(self, ok: bool) -> None: ...


@dataclass
class CycleStages:
    """The long-lived parts a cycle runs through; built once by the daemon."""

    settings: Settings
    source: SnapshotSource
    catalog: ServiceCatalog
    ledger_store: LedgerStore
    conversation: Conversation
    notifier: Dispatcher
    metrics: Metrics | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Error text comes from exceptions (SDK, apiserver, OS): redacted before the report keeps it.
    redactor: Redactor = field(default_factory=Redactor)
    # The dead-man's switch (heartbeat URL, Watchdog alert); it never blocks the cycle.
    heartbeat: Beat | None = None
    # Bounded GETs for evidence beyond the snapshot; None: evidence from the snapshot only.
    evidence_reads: EvidenceReads | None = None
