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
from datetime import datetime

import structlog

from k8s_monitor.analysis.escalation import Sev, escalate
from k8s_monitor.analysis.incidents import Incident, IncidentStatus, Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_with_root_causes, with_root_causes
from k8s_monitor.converse import ConverseInput, ConverseOutcome
from k8s_monitor.converse.answer import AnalysisSource
from k8s_monitor.converse.policy import CallDecision, CallGate, quiet_outcome
from k8s_monitor.cycle.accounting import (
    count_cycle,
    count_error,
    count_model_disabled,
    count_notifications,
    fail,
)
from k8s_monitor.cycle.monitor_incidents import MonitorIncidents
from k8s_monitor.cycle.observe import Observation, observe
from k8s_monitor.cycle.report_fill import fill_report, log_completed, note_unsaved_ledger
from k8s_monitor.cycle.stages import CycleStages
from k8s_monitor.errors import ClusterError, MonitorError, StorageError
from k8s_monitor.logs import bound_cycle
from k8s_monitor.notify import NotificationContext
from k8s_monitor.report import CycleReport, Outcome, write_report

log = structlog.get_logger(__name__)

URGENT = frozenset({Sev.SEV1, Sev.SEV2})


class CycleRunner:
    """Runs cycles one after another, carrying what must survive between them in memory."""

    def __init__(self, stages: CycleStages) -> None:
        settings = stages.settings
        self._stages = stages
        self._ledger: Ledger | None = None
        self._last_collected_at: datetime | None = None
        self._monitor = MonitorIncidents(
            settings.cluster_name,
            blind_after=settings.blind_after_failures,
            catalog=stages.catalog,
            notifier=stages.notifier,
        )
        self._gate = CallGate(settings.llm_call_policy, settings.llm_heartbeat_cycles)
        # The model's last suggested severities: a quiet cycle keeps them, it was not asked.
        self._model_sevs: dict[str, Sev] = {}

    @property
    def consecutive_failures(self) -> int:
        return self._monitor.consecutive_failures

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
                fail(report, exc, stage="cycle", metrics=self._stages.metrics)
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
            fail(report, exc, stage="collect", metrics=s.metrics)
            self._monitor.collection_failed(report, str(exc), now)
            return
        self._last_collected_at = now
        self._monitor.collection_succeeded(now)

        seen = observe(
            snapshot,
            ledger,
            now=now,
            catalog=s.catalog,
            resolve_after=s.settings.resolve_after_cycles,
            reads=s.evidence_reads,
            redact=s.redactor.redact,
        )
        report.evidence = seen.evidence
        unsaved = self._remember(seen.ledger)

        urgent = self._notify_urgent(seen.update, now)
        decision = self._gate.decide(seen.update)
        report.llm_call = decision.reason.value
        outcome = self._converse(cycle, now, seen, decision, urgent)
        update = seen.update
        if outcome is not None and outcome.root_causes:
            update = self._remember_causes(seen.ledger, update, outcome)
        escalations = escalate(
            update, catalog=s.catalog, now=now, model_severities=self._severities(outcome, update)
        )
        notifications = s.notifier.dispatch(
            escalations,
            resolved=_remembered_resolutions(seen.ledger),
            context=self._context(cycle, outcome),
        )
        count_notifications(s.metrics, notifications)
        fill_report(
            report, seen.snapshot, seen.findings, update, escalations, outcome, notifications
        )
        if unsaved is not None:
            note_unsaved_ledger(report, unsaved)
        if outcome is not None and outcome.alert is not None:
            count_model_disabled(s.metrics)
            self._monitor.model_disabled(report, outcome.alert, now)

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

    def _remember(self, ledger: Ledger) -> StorageError | None:
        """The new ledger kept in memory and saved; when it could not be written, why.

        A failed write (disk full) must not silence the cycle: the new ledger is kept in
        memory, so notifications still go out and the next cycle gets a new number; the report
        says the ledger was not saved, and the next successful save catches up.
        """
        self._ledger = ledger
        # Saved before the model is asked: the ledger is ground truth whether or not it answers.
        try:
            self._stages.ledger_store.save(ledger)
        except StorageError as exc:
            log.error("ledger_save_failed", error_type=type(exc).__name__, error=str(exc))
            count_error(self._stages.metrics, "remember", exc)
            return exc
        return None

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
            count_error(self._stages.metrics, "remember", exc)
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
        seen: Observation,
        decision: CallDecision,
        urgent: tuple[str, ...],
    ) -> ConverseOutcome | None:
        update = seen.update
        data = ConverseInput(
            cycle=cycle,
            now=now,
            cluster=self._stages.settings.cluster_name,
            snapshot=seen.snapshot,
            findings=seen.findings,
            update=update,
            ledger=seen.ledger,
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
            count_error(self._stages.metrics, "converse", exc)
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

    # --- the report stage -----------------------------------------------------------------

    def _finish(self, report: CycleReport) -> None:
        s = self._stages
        if report.error:
            report.error = s.redactor.redact(report.error)
        try:
            write_report(report, s.settings.report_dir, s.settings.report_retention)
        except (StorageError, OSError) as exc:
            log.error("report_write_failed", error_type=type(exc).__name__, error=str(exc))
            count_error(s.metrics, "report", exc)
        count_cycle(s.metrics, report)
        log_completed(report)


def _model_severities(outcome: ConverseOutcome | None) -> dict[str, Sev]:
    if outcome is None or outcome.source != "model":
        return {}
    severities: dict[str, Sev] = {}
    for fingerprint, label in outcome.analysis.suggested_escalation.items():
        sev = Sev.parse(label)
        if sev is not None:
            severities[fingerprint] = sev
    return severities


def _remembered_resolutions(ledger: Ledger) -> list[Incident]:
    """Every resolution the ledger remembers, not only this cycle's.

    The ledger is saved before notifications are staged; a crash between the two would
    otherwise lose a resolved notice for good, and the incident's return would page as if
    the receiver had heard it end. The notifier announces each resolution once.
    """
    return [i for i in ledger.incidents.values() if i.status is IncidentStatus.RESOLVED]
