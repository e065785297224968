"""The cycle report, filled from what the stages returned and summed up in one log line."""

from __future__ import annotations

import structlog

from k8s_monitor.analysis.escalation import Escalation
from k8s_monitor.analysis.findings import Finding, count_by_severity
from k8s_monitor.analysis.incidents import LedgerUpdate
from k8s_monitor.analysis.ledger import incident_summary
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.converse import ConverseOutcome
from k8s_monitor.errors import StorageError
from k8s_monitor.notify import DispatchResult
from k8s_monitor.report import CycleReport, ModelUsage, Outcome, cache_hit_rate

log = structlog.get_logger(__name__)

_HEALTH_ORDER = ("healthy", "degraded", "critical")


def fill_report(
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


def note_unsaved_ledger(report: CycleReport, exc: StorageError) -> None:
    """The ledger lives on in memory: the cycle is degraded, not failed."""
    report.outcome = Outcome.DEGRADED
    unsaved = f"ledger not saved: {type(exc).__name__}: {exc}"
    report.error = f"{unsaved}; {report.error}" if report.error else unsaved


def log_completed(report: CycleReport) -> None:
    usage = report.usage
    log.info(
        "cycle_completed",
        outcome=report.outcome.value,
        duration_s=round(report.duration_seconds, 3),
        health=report.overall_health,
        findings=report.findings_by_severity,
        incidents={status: len(fps) for status, fps in report.incident_changes.items()},
        analysis=report.analysis_source,
        tokens=usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_5m_tokens
        + usage.cache_write_1h_tokens
        + usage.output_tokens,
        cost_usd=round(usage.cost_usd, 6),
        context_ratio=round(report.context_ratio, 3),
        report=report.report_path,
        error=report.error,
    )


def _worse_health(first: str, second: str) -> str:
    rank = {name: position for position, name in enumerate(_HEALTH_ORDER)}
    return max(first, second, key=lambda health: rank.get(health, len(_HEALTH_ORDER)))


def _health_from_findings(findings: list[Finding]) -> str:
    counts = count_by_severity(findings)
    if counts["critical"]:
        return "critical"
    return "degraded" if counts["warning"] else "healthy"
