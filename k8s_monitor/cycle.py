"""One monitoring cycle: the only module that knows the order of the stages.

collect -> analyze -> evidence -> causes -> remember -> (urgent notify) -> converse -> escalate
-> notify -> report

Deterministic SEV-1/2 escalations are dispatched before the model is asked anything: a slow or
failing model must never delay the page about a node going down. After the model answers, the
full escalation runs again with its suggestions (which can only raise severities); the notifier's
dedup keeps what already went out from going out twice. The model is asked only when the call
gate says so (``LLM_CALL_POLICY``: on change, on a heartbeat); a quiet cycle runs every other
stage with the deterministic analysis. Any exception a stage lets through fails the cycle with a
report, never the daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import msgspec
import structlog

from k8s_monitor.analysis.causes import link_causes
from k8s_monitor.analysis.escalation import (
    Escalation,
    Sev,
    blind_monitor_finding,
    escalate,
    model_disabled_finding,
)
from k8s_monitor.analysis.findings import Finding, count_by_severity
from k8s_monitor.analysis.incidents import Incident, IncidentStatus, Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import (
    LedgerStore,
    incident_summary,
    update_ledger,
    update_with_root_causes,
    with_root_causes,
)
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.resources import unobserved_kinds
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import Settings
from k8s_monitor.converse import Conversation, ConverseInput, ConverseOutcome
from k8s_monitor.converse.answer import AnalysisSource
from k8s_monitor.converse.policy import CallDecision, CallGate, quiet_outcome
from k8s_monitor.errors import ClusterError, MonitorError, StorageError
from k8s_monitor.investigate import EvidenceOutcome, EvidenceReads, gather_evidence
from k8s_monitor.logs import bound_cycle
from k8s_monitor.metrics import NOTIFICATION_SINK
from k8s_monitor.notify import DispatchResult, NotificationContext
from k8s_monitor.redaction import Redactor
from k8s_monitor.report import (
    CycleReport,
    EscalationRecord,
    EvidenceStats,
    ModelUsage,
    Outcome,
    cache_hit_rate,
    write_report,
)

if TYPE_CHECKING:
    from k8s_monitor.metrics import Metrics

log = structlog.get_logger(__name__)

URGENT = frozenset({Sev.SEV1, Sev.SEV2})


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


class CycleRunner:
    """Runs cycles one after another, carrying what must survive between them in memory."""

    def __init__(self, stages: CycleStages) -> None:
        self._stages = stages
        self._ledger: Ledger | None = None
        self._last_collected_at: datetime | None = None
        self._consecutive_failures = 0
        # Incidents about the monitor itself (blind, model disabled): kept by the same ledger
        # rules, apart from the cluster's ledger, whose incidents a blind cycle knows nothing of.
        self._monitor_ledger = Ledger()
        self._gate = CallGate(stages.settings.llm_call_policy, stages.settings.llm_heartbeat_cycles)
        # The model's last suggested severities: a quiet cycle keeps them, it was not asked.
        self._model_sevs: dict[str, Sev] = {}

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
            self._beat(ok=report.outcome is not Outcome.FAILED)
        return report

    def _beat(self, *, ok: bool) -> None:
        if self._stages.heartbeat is not None:
            self._stages.heartbeat.beat(ok)

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
        # Kinds collection could not list; an evidence read that fails hides no finding.
        unobserved = unobserved_kinds(snapshot.gaps)
        evidence = self._investigate(findings, snapshot, ledger, now)
        if evidence.gaps:
            snapshot = msgspec.structs.replace(snapshot, gaps=[*snapshot.gaps, *evidence.gaps])
        findings = link_causes(evidence.findings, snapshot, now=now)
        report.evidence = EvidenceStats(
            investigated=evidence.investigated,
            requests=evidence.requests,
            seconds=round(evidence.seconds, 4),
        )
        new_ledger, update, unsaved = self._remember(ledger, findings, now, unobserved)

        urgent = self._notify_urgent(update, now)
        decision = self._gate.decide(update)
        report.llm_call = decision.reason.value
        outcome = self._converse(
            cycle, now, snapshot, findings, update, new_ledger, decision, urgent
        )
        if outcome is not None and outcome.root_causes:
            update = self._remember_causes(new_ledger, update, outcome)
        escalations = escalate(
            update, catalog=s.catalog, now=now, model_severities=self._severities(outcome, update)
        )
        notifications = s.notifier.dispatch(
            escalations,
            resolved=_remembered_resolutions(new_ledger),
            context=self._context(cycle, outcome),
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

    def _severities(self, outcome: ConverseOutcome | None, update: LedgerUpdate) -> dict[str, Sev]:
        if outcome is not None and outcome.source is AnalysisSource.QUIET:
            still_open = {i.fingerprint for i in update.open}
            return {fp: sev for fp, sev in self._model_sevs.items() if fp in still_open}
        severities = _model_severities(outcome)
        if outcome is not None and outcome.source is AnalysisSource.MODEL:
            self._model_sevs = severities
        return severities

    def _load_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = self._stages.ledger_store.load()
        return self._ledger

    def _investigate(
        self, findings: list[Finding], snapshot: ClusterSnapshot, ledger: Ledger, now: datetime
    ) -> EvidenceOutcome:
        s = self._stages
        return gather_evidence(
            findings,
            snapshot,
            previous=ledger,
            reads=s.evidence_reads,
            now=now,
            redact=s.redactor.redact,
        )

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

    def _notify_urgent(self, update: LedgerUpdate, now: datetime) -> tuple[str, ...]:
        """Page SEV-1/2 at once; their fingerprints, worst first (the model may investigate)."""
        s = self._stages
        urgent = [
            e
            for e in escalate(update, catalog=s.catalog, now=now, model_severities={})
            if e.sev in URGENT
        ]
        if urgent:
            s.notifier.dispatch(
                urgent, resolved=[], context=self._context(update.cycle, None), early=True
            )
        ordered = sorted(urgent, key=lambda e: (e.sev, e.incident.open_since, e.fingerprint))
        return tuple(e.fingerprint for e in ordered)

    def _remember_causes(
        self, ledger: Ledger, update: LedgerUpdate, outcome: ConverseOutcome
    ) -> LedgerUpdate:
        """Root causes found this cycle into the ledger (saved) and this cycle's incidents."""
        remembered = with_root_causes(ledger, outcome.root_causes)
        try:
            self._stages.ledger_store.save(remembered)
        except StorageError as exc:
            # The causes are lost for later cycles, not for this one's report and notices.
            log.error("ledger_save_failed", error_type=type(exc).__name__, error=str(exc))
            self._count_error("remember", exc)
        else:
            self._ledger = remembered
        for fingerprint, cause in outcome.root_causes.items():
            log.info(
                "root_cause_found",
                fingerprint=fingerprint,
                confidence=cause.confidence,
                summary=cause.summary[:300],
            )
        return update_with_root_causes(update, outcome.root_causes)

    def _converse(
        self,
        cycle: int,
        now: datetime,
        snapshot: ClusterSnapshot,
        findings: list[Finding],
        update: LedgerUpdate,
        ledger: Ledger,
        decision: CallDecision,
        urgent: tuple[str, ...] = (),
    ) -> ConverseOutcome | None:
        data = ConverseInput(
            cycle=cycle,
            now=now,
            cluster=self._stages.settings.cluster_name,
            snapshot=snapshot,
            findings=findings,
            update=update,
            ledger=ledger,
            quiet_cycles=decision.quiet_cycles,
            cache_prefix=decision.cache_prefix(update),
            urgent=urgent,
        )
        if not decision.call:
            self._gate.skipped(update)
            return quiet_outcome(data, self._stages.conversation.mode)
        try:
            outcome = self._stages.conversation.converse(data)
        except MonitorError as exc:
            # The conversation handles model failures itself; what reaches here is storage.
            log.error("converse_failed", error_type=type(exc).__name__, error=str(exc))
            self._count_error("converse", exc)
            return None
        if outcome.source in (AnalysisSource.MODEL, AnalysisSource.OFFLINE):
            self._gate.answered(update)
        return outcome

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
        if self._monitor_ledger.open_incidents():
            update = self._observe_monitor([], self._monitor_ledger.cycle + 1, now)
            self._stages.notifier.dispatch(
                [], resolved=update.resolved, context=self._context(update.cycle, None)
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
        update = self._observe_monitor([finding], report.cycle, now)
        report.escalations = self._escalate_monitor_incidents(update, now)
        log.error("monitor_blind", consecutive_failures=self._consecutive_failures)

    def _escalate_model_alert(self, report: CycleReport, alert: str, now: datetime) -> None:
        """Sent once, on the cycle the provider was disabled; a restart re-enables it."""
        if self._stages.metrics is not None:
            self._stages.metrics.observe_llm_disabled()
        finding = model_disabled_finding(self._stages.settings.cluster_name, alert)
        _, update = update_ledger(Ledger(cycle=report.cycle - 1), [finding], now=now)
        report.escalations.extend(self._escalate_monitor_incidents(update, now))

    def _observe_monitor(self, findings: list[Finding], cycle: int, now: datetime) -> LedgerUpdate:
        """The monitor's own incidents through the ledger's rules, numbered like the cycle."""
        previous = Ledger(cycle=cycle - 1, incidents=self._monitor_ledger.incidents)
        self._monitor_ledger, update = update_ledger(previous, findings, now=now)
        return update

    def _escalate_monitor_incidents(
        self, update: LedgerUpdate, now: datetime
    ) -> list[EscalationRecord]:
        """Escalate incidents about the monitor itself, outside the cluster's ledger."""
        s = self._stages
        escalations = escalate(update, catalog=s.catalog, now=now)
        s.notifier.dispatch(escalations, resolved=[], context=self._context(update.cycle, None))
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
            incidents={status: len(fps) for status, fps in report.incident_changes.items()},
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
                self._stages.metrics.observe_notification(
                    NOTIFICATION_SINK, str(outcome), int(count)
                )

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
    report.incidents = [i.entry() for i in update.open]
    report.incident_changes = {
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
        report.cache_hit_rate = cache_hit_rate(report.usage)
        report.context_tokens = outcome.context_tokens
        report.context_ratio = outcome.context_ratio
        report.pruned = outcome.pruned
        report.investigation = outcome.investigation
        report.root_causes = {fp: c.to_json() for fp, c in outcome.root_causes.items()}
        if outcome.error is not None:
            report.error = outcome.error
            degraded = True
    if degraded:
        report.outcome = Outcome.DEGRADED


_HEALTH_ORDER = ("healthy", "degraded", "critical")


def _worse_health(first: str, second: str) -> str:
    rank = {name: position for position, name in enumerate(_HEALTH_ORDER)}
    return max(first, second, key=lambda health: rank.get(health, len(_HEALTH_ORDER)))


def _health_from_findings(findings: list[Finding]) -> str:
    counts = count_by_severity(findings)
    if counts["critical"]:
        return "critical"
    return "degraded" if counts["warning"] else "healthy"


def _remembered_resolutions(ledger: Ledger) -> list[Incident]:
    """Every resolution the ledger remembers, not only this cycle's.

    The ledger is saved before notifications are staged; a crash between the two would
    otherwise lose a resolved notice for good, and the incident's return would page as if
    the receiver had heard it end. The notifier announces each resolution once.
    """
    return [i for i in ledger.incidents.values() if i.status is IncidentStatus.RESOLVED]
