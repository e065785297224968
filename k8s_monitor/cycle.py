"""One monitoring cycle: the only module that knows the order of the stages.

collect -> analyze -> remember -> (urgent notify) -> converse -> escalate -> notify -> report

Deterministic SEV-1/2 escalations are dispatched before the model is asked anything: a slow or
failing model must never delay the page about a node going down. After the model answers, the
full escalation runs again with its suggestions (which can only raise severities); the notifier's
dedup keeps what already went out from going out twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from k8s_monitor.analysis.escalation import (
    Escalation,
    Sev,
    blind_monitor_finding,
    escalate,
    model_disabled_finding,
)
from k8s_monitor.analysis.findings import Finding, count_by_severity
from k8s_monitor.analysis.incidents import Incident, IncidentStatus, Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import LedgerStore, incident_summary, update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.resources import unobserved_kinds
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import Settings
from k8s_monitor.converse import ConverseInput, ConverseOutcome
from k8s_monitor.errors import ClusterError, MonitorError, StorageError
from k8s_monitor.logs import bound_cycle
from k8s_monitor.notify import DispatchResult, NotificationContext
from k8s_monitor.redaction import Redactor
from k8s_monitor.report import CycleReport, ModelUsage, Outcome, write_report

if TYPE_CHECKING:
    from k8s_monitor.metrics import Metrics

log = structlog.get_logger(__name__)

URGENT = frozenset({Sev.SEV1, Sev.SEV2})


class SnapshotSource(Protocol):
    def collect(self, *, now: datetime, since: datetime | None) -> ClusterSnapshot: ...


class Conversation(Protocol):
    def converse(self, data: ConverseInput) -> ConverseOutcome: ...


class Dispatcher(Protocol):
    def dispatch(
        self,
        escalations: list[Escalation],
        *,
        resolved: list[Incident],
        context: NotificationContext,
    ) -> DispatchResult: ...


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


class CycleRunner:
    """Runs cycles one after another, carrying what must survive between them in memory."""

    def __init__(self, stages: CycleStages) -> None:
        self._stages = stages
        self._ledger: Ledger | None = None
        self._last_collected_at: datetime | None = None
        self._consecutive_failures = 0
        self._blind_incident: Incident | None = None

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def run(self) -> CycleReport:
        settings = self._stages.settings
        ledger = self._load_ledger()
        cycle = ledger.cycle + 1
        with bound_cycle(cycle, settings.session_id, settings.mode):
            now = self._stages.clock()
            started = time.monotonic()
            report = CycleReport(
                cycle=cycle,
                cluster=settings.cluster_name,
                mode=settings.mode,
                session_id=settings.session_id,
                started_at=now,
            )
            try:
                self._run_cycle(report, ledger)
            except Exception as exc:  # the cycle boundary: reported, counted, never silent
                log.exception("cycle_crashed", error_type=type(exc).__name__)
                _fail(report, exc, stage="cycle")
                self._count_error("cycle", exc)
            report.duration_seconds = time.monotonic() - started
            self._finish(report)
        return report

    # --- the pipeline ------------------------------------------------------------------------

    def _run_cycle(self, report: CycleReport, ledger: Ledger) -> None:
        s = self._stages
        now, cycle = report.started_at, report.cycle
        log.info("cycle_started")
        try:
            snapshot = s.source.collect(now=now, since=self._last_collected_at)
        except ClusterError as exc:
            self._collection_failed(report, exc, now)
            return
        self._collection_succeeded(now)

        findings = analyze(snapshot, now=now, catalog=s.catalog)
        new_ledger, update, unsaved = self._remember(
            ledger, findings, now, unobserved_kinds(snapshot.gaps)
        )

        self._notify_urgent(update, now)
        outcome = self._converse(cycle, now, snapshot, findings, update, new_ledger)
        escalations = escalate(
            update, catalog=s.catalog, now=now, model_severities=_model_severities(outcome)
        )
        notifications = s.notifier.dispatch(
            escalations, resolved=update.resolved, context=self._context(cycle, outcome)
        )
        self._count_notifications(notifications)
        _fill_report(report, snapshot, findings, update, escalations, outcome, notifications)
        if unsaved is not None:
            report.outcome = Outcome.DEGRADED
            report.error = _joined(
                f"ledger not saved: {type(unsaved).__name__}: {unsaved}", report.error
            )
        if outcome is not None and outcome.alert is not None:
            self._escalate_model_alert(report, outcome.alert, now)

    def _load_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = self._stages.ledger_store.load()
        return self._ledger

    def _remember(
        self, ledger: Ledger, findings: list[Finding], now: datetime, unobserved: frozenset[str]
    ) -> tuple[Ledger, LedgerUpdate, StorageError | None]:
        """The updated ledger and, when it could not be written, why.

        A failed write (disk full) must not silence the cycle: the new ledger is kept in
        memory, so notifications still go out and the next cycle gets a new number; the report
        says the ledger was not saved, and the next successful save catches up.
        """
        new_ledger, update = update_ledger(
            ledger,
            findings,
            now=now,
            resolve_after=self._stages.settings.resolve_after_cycles,
            unobserved_kinds=unobserved,
        )
        self._ledger = new_ledger
        # Saved before the model is asked: the ledger is ground truth whether or not it answers.
        try:
            self._stages.ledger_store.save(new_ledger)
        except StorageError as exc:
            log.error("ledger_save_failed", error_type=type(exc).__name__, error=str(exc))
            self._count_error("remember", exc)
            return new_ledger, update, exc
        return new_ledger, update, None

    def _notify_urgent(self, update: LedgerUpdate, now: datetime) -> None:
        s = self._stages
        urgent = [
            e
            for e in escalate(update, catalog=s.catalog, now=now, model_severities={})
            if e.sev in URGENT
        ]
        if urgent:
            s.notifier.dispatch(urgent, resolved=[], context=self._context(update.cycle, None))

    def _converse(
        self,
        cycle: int,
        now: datetime,
        snapshot: ClusterSnapshot,
        findings: list[Finding],
        update: LedgerUpdate,
        ledger: Ledger,
    ) -> ConverseOutcome | None:
        data = ConverseInput(
            cycle=cycle,
            now=now,
            cluster=self._stages.settings.cluster_name,
            snapshot=snapshot,
            findings=findings,
            update=update,
            ledger=ledger,
        )
        try:
            return self._stages.conversation.converse(data)
        except MonitorError as exc:
            # The conversation handles model failures itself; what reaches here is storage.
            log.error("converse_failed", error_type=type(exc).__name__, error=str(exc))
            self._count_error("converse", exc)
            return None

    def _context(self, cycle: int, outcome: ConverseOutcome | None) -> NotificationContext:
        analysis = outcome.analysis if outcome is not None else None
        return NotificationContext(
            cluster=self._stages.settings.cluster_name,
            cycle=cycle,
            summary=analysis.summary if analysis is not None else None,
            actions=list(analysis.recommended_actions) if analysis is not None else [],
        )

    # --- failures of the whole collection -------------------------------------------------

    def _collection_succeeded(self, now: datetime) -> None:
        self._last_collected_at = now
        self._consecutive_failures = 0
        if self._blind_incident is not None:
            cleared = self._blind_incident
            self._blind_incident = None
            self._stages.notifier.dispatch(
                [], resolved=[cleared], context=self._context(cleared.last_cycle, None)
            )

    def _collection_failed(self, report: CycleReport, exc: ClusterError, now: datetime) -> None:
        self._consecutive_failures += 1
        _fail(report, exc, stage="collect")
        self._count_error("collect", exc)
        if self._consecutive_failures >= self._stages.settings.blind_after_failures:
            self._escalate_blind(report, str(exc), now)

    def _escalate_blind(self, report: CycleReport, reason: str, now: datetime) -> None:
        """The monitor cannot see the cluster: that itself is an incident worth a page.

        It bypasses the ledger on purpose: with no snapshot we know nothing about the other
        incidents, and feeding an empty finding list would mark them all resolved.
        """
        finding = blind_monitor_finding(
            self._stages.settings.cluster_name, self._consecutive_failures, reason
        )
        self._blind_incident = _monitor_incident(finding, self._blind_incident, report.cycle, now)
        report.escalations = self._escalate_monitor_incident(self._blind_incident)
        log.error("monitor_blind", consecutive_failures=self._consecutive_failures)

    def _escalate_model_alert(self, report: CycleReport, alert: str, now: datetime) -> None:
        """Sent once, on the cycle the provider was disabled; a restart re-enables it."""
        finding = model_disabled_finding(self._stages.settings.cluster_name, alert)
        incident = _monitor_incident(finding, None, report.cycle, now)
        report.escalations.extend(self._escalate_monitor_incident(incident))

    def _escalate_monitor_incident(self, incident: Incident) -> list[dict[str, Any]]:
        """Escalate an incident about the monitor itself, outside the cluster's ledger."""
        s = self._stages
        is_new = incident.status is IncidentStatus.NEW
        update = LedgerUpdate(
            cycle=incident.last_cycle,
            new=[incident] if is_new else [],
            recurring=[] if is_new else [incident],
        )
        escalations = escalate(update, catalog=s.catalog, now=incident.last_seen)
        s.notifier.dispatch(
            escalations, resolved=[], context=self._context(incident.last_cycle, None)
        )
        return [e.to_json() for e in escalations]

    # --- the report stage -----------------------------------------------------------------

    def _finish(self, report: CycleReport) -> None:
        s = self._stages
        if report.error:
            report.error = s.redactor.redact(report.error)
        try:
            write_report(report, s.settings.report_dir, s.settings.report_retention)
        except (StorageError, OSError) as exc:
            log.error("report_write_failed", error_type=type(exc).__name__, error=str(exc))
            self._count_error("report", exc)
        if s.metrics is not None:
            s.metrics.observe_cycle(report)
        log.info(
            "cycle_completed",
            outcome=report.outcome.value,
            duration_s=round(report.duration_seconds, 3),
            health=report.overall_health,
            findings=report.findings_by_severity,
            incidents={status: len(fps) for status, fps in report.incidents.items()},
            analysis=report.analysis_source,
            tokens=report.usage.input_tokens
            + report.usage.cache_read_tokens
            + report.usage.cache_write_5m_tokens
            + report.usage.cache_write_1h_tokens
            + report.usage.output_tokens,
            cost_usd=round(report.usage.cost_usd, 6),
            context_ratio=round(report.context_ratio, 3),
            report=report.report_path,
            error=report.error,
        )

    def _count_notifications(self, result: DispatchResult) -> None:
        # The notifier counts by outcome across its sinks ("sent", "spooled", "lost"...).
        if self._stages.metrics is None:
            return
        for outcome, count in result.counts.items():
            if outcome != "pending":  # a level, not an event: it is in the cycle report
                self._stages.metrics.observe_notification("all", str(outcome), int(count))

    def _count_error(self, stage: str, exc: BaseException) -> None:
        if self._stages.metrics is not None:
            self._stages.metrics.observe_error(stage, type(exc).__name__)


# --- pure helpers ----------------------------------------------------------------------------


def _fail(report: CycleReport, exc: BaseException, *, stage: str) -> None:
    report.outcome = Outcome.FAILED
    report.error = f"{type(exc).__name__}: {exc}"
    log.error("cycle_failed", stage=stage, error_type=type(exc).__name__, error=str(exc))


def _joined(first: str, second: str | None) -> str:
    return first if not second else f"{first}; {second}"


def _model_severities(outcome: ConverseOutcome | None) -> dict[str, Sev]:
    if outcome is None or outcome.source != "model":
        return {}
    severities: dict[str, Sev] = {}
    for fingerprint, label in outcome.analysis.suggested_escalation.items():
        sev = Sev.parse(label)
        if sev is not None:
            severities[fingerprint] = sev
    return severities


def _fill_report(
    report: CycleReport,
    snapshot: ClusterSnapshot,
    findings: list[Finding],
    update: LedgerUpdate,
    escalations: list[Escalation],
    outcome: ConverseOutcome | None,
    notifications: DispatchResult,
) -> None:
    report.findings_by_severity = count_by_severity(findings)
    report.findings = [f.to_json() for f in findings]
    now = report.started_at
    report.incidents = {
        "new": [incident_summary(i, now) for i in update.new],
        "recurring": [incident_summary(i, now) for i in update.recurring],
        "resolved": [incident_summary(i, now) for i in update.resolved],
        "flapping": [incident_summary(i, now) for i in update.flapping],
    }
    report.escalations = [e.to_json() for e in escalations]
    report.collection_gaps = [f"{g.resource}: {g.reason}" for g in snapshot.gaps]
    report.notifications = notifications.counts
    degraded = snapshot.partial
    if outcome is None:
        report.analysis_source = "none"
        report.overall_health = _health_from_findings(findings)
        degraded = True
    else:
        analysis = outcome.analysis
        report.analysis_source = outcome.source
        # The model can say things are worse than the rules do, never better: its input
        # includes untrusted log text, and a critical finding must not read as "healthy".
        report.overall_health = _worse_health(
            str(analysis.overall_health), _health_from_findings(findings)
        )
        report.summary = analysis.summary
        report.recommended_actions = list(analysis.recommended_actions)
        report.usage = outcome.usage if outcome.usage is not None else ModelUsage()
        report.context_tokens = outcome.context_tokens
        report.context_ratio = outcome.context_ratio
        report.pruned = outcome.pruned
        if outcome.error is not None:
            report.error = outcome.error
            degraded = True
    if degraded:
        report.outcome = Outcome.DEGRADED


def _monitor_incident(
    finding: Finding, previous: Incident | None, cycle: int, now: datetime
) -> Incident:
    """An incident about the monitor itself, continuing ``previous`` when there is one."""
    return Incident(
        fingerprint=finding.fingerprint,
        finding=finding,
        status=IncidentStatus.NEW if previous is None else IncidentStatus.RECURRING,
        first_seen=previous.first_seen if previous else now,
        opened_at=previous.opened_at if previous else now,
        last_seen=now,
        first_cycle=previous.first_cycle if previous else cycle,
        last_cycle=cycle,
        cycles_seen=(previous.cycles_seen + 1) if previous else 1,
    )


_HEALTH_ORDER = ("healthy", "degraded", "critical")


def _worse_health(first: str, second: str) -> str:
    rank = {name: position for position, name in enumerate(_HEALTH_ORDER)}
    return max(first, second, key=lambda health: rank.get(health, len(_HEALTH_ORDER)))


def _health_from_findings(findings: list[Finding]) -> str:
    counts = count_by_severity(findings)
    if counts["critical"]:
        return "critical"
    return "degraded" if counts["warning"] else "healthy"
