"""Incidents about the monitor itself: blind (collection keeps failing), model disabled.

They are kept by the same ledger rules as the cluster's incidents, in a ledger of their own: a
blind cycle knows nothing of the cluster's incidents, and feeding the cluster's ledger an empty
finding list would mark them all resolved.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from k8s_monitor.analysis.escalation import (
    blind_monitor_finding,
    escalate,
    model_disabled_finding,
)
from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cycle.stages import Dispatcher
from k8s_monitor.notify import NotificationContext
from k8s_monitor.report import CycleReport, EscalationRecord

log = structlog.get_logger(__name__)


class MonitorIncidents:
    """The monitor's own incidents, and the count of collections failed in a row."""

    def __init__(
        self, cluster: str, *, blind_after: int, catalog: ServiceCatalog, notifier: Dispatcher
    ) -> None:
        self._cluster = cluster
        self._blind_after = blind_after
        self._catalog = catalog
        self._notifier = notifier
        self._ledger = Ledger()
        self.consecutive_failures = 0

    def collection_succeeded(self, now: datetime) -> None:
        """The monitor sees again: a blind incident resolves."""
        self.consecutive_failures = 0
        if self._ledger.open_incidents():
            update = self._observe([], self._ledger.cycle + 1, now)
            self._notifier.dispatch([], resolved=update.resolved, context=self._context(update))

    def collection_failed(self, report: CycleReport, reason: str, now: datetime) -> None:
        """Enough failures in a row and the monitor is blind: that itself is worth a page."""
        self.consecutive_failures += 1
        if self.consecutive_failures < self._blind_after:
            return
        finding = blind_monitor_finding(self._cluster, self.consecutive_failures, reason)
        update = self._observe([finding], report.cycle, now)
        report.escalations = self._escalate(update, now)
        log.error("monitor_blind", consecutive_failures=self.consecutive_failures)

    def model_disabled(self, report: CycleReport, alert: str, now: datetime) -> None:
        """Sent once, on the cycle the provider was disabled; a restart re-enables it."""
        finding = model_disabled_finding(self._cluster, alert)
        _, update = update_ledger(Ledger(cycle=report.cycle - 1), [finding], now=now)
        report.escalations.extend(self._escalate(update, now))

    def _observe(self, findings: list[Finding], cycle: int, now: datetime) -> LedgerUpdate:
        """The monitor's own incidents through the ledger's rules, numbered like the cycle."""
        previous = Ledger(cycle=cycle - 1, incidents=self._ledger.incidents)
        self._ledger, update = update_ledger(previous, findings, now=now)
        return update

    def _escalate(self, update: LedgerUpdate, now: datetime) -> list[EscalationRecord]:
        escalations = escalate(update, catalog=self._catalog, now=now)
        self._notifier.dispatch(escalations, resolved=[], context=self._context(update))
        return [e.to_json() for e in escalations]

    def _context(self, update: LedgerUpdate) -> NotificationContext:
        return NotificationContext(cluster=self._cluster, cycle=update.cycle)
