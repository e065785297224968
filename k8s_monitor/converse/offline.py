"""The deterministic analysis: what the report says when no model answers.

Used by the offline provider every cycle and as the fallback when a model call fails. It only
restates what the rules and the ledger established, so it never suggests escalations (that is
the escalation stage's own deterministic job) and it labels itself as such in the summary.
"""

from __future__ import annotations

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Incident
from k8s_monitor.converse.answer import ClusterHealth, CycleAnalysis
from k8s_monitor.converse.context import CycleContext

_MAX_ACTIONS = 5
_MAX_CAUSES = 3


def deterministic_analysis(context: CycleContext, *, reason: str) -> CycleAnalysis:
    """Build the analysis from the ledger update alone. ``reason`` says why no model answered."""
    update = context.ledger_update
    open_incidents = _by_severity(update.open)
    health = _health(open_incidents)
    return CycleAnalysis(
        overall_health=health,
        summary=_summary(context, open_incidents, reason),
        new_fingerprints=[i.fingerprint for i in update.new],
        recurring_fingerprints=[i.fingerprint for i in [*update.recurring, *update.flapping]],
        resolved_fingerprints=[i.fingerprint for i in update.resolved],
        recommended_actions=[_action(i) for i in open_incidents[:_MAX_ACTIONS]],
    )


def _by_severity(incidents: list[Incident]) -> list[Incident]:
    return sorted(incidents, key=lambda i: (-i.finding.severity.rank, i.first_cycle, i.fingerprint))


def _health(open_incidents: list[Incident]) -> ClusterHealth:
    severities = {i.finding.severity for i in open_incidents}
    if Severity.CRITICAL in severities:
        return ClusterHealth.CRITICAL
    if Severity.WARNING in severities:
        return ClusterHealth.DEGRADED
    return ClusterHealth.HEALTHY


def _summary(context: CycleContext, open_incidents: list[Incident], reason: str) -> str:
    update = context.ledger_update
    counts = {s: 0 for s in Severity}
    for incident in open_incidents:
        counts[incident.finding.severity] += 1
    parts = [
        f"{len(open_incidents)} open incident(s)"
        f" ({counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning,"
        f" {counts[Severity.INFO]} info); {len(update.new)} new,"
        f" {len(update.resolved)} resolved this cycle.",
    ]
    if open_incidents:
        parts.append(_most_severe(open_incidents[0]))
        caused = [i for i in open_incidents if i.symptoms]
        for incident in caused[:_MAX_CAUSES]:
            parts.append(_cause_sentence(incident))
    if context.snapshot.gaps:
        parts.append(f"Partial view: {len(context.snapshot.gaps)} resource(s) could not be read.")
    parts.append(f"(Deterministic analysis of cycle {context.cycle}: {reason}.)")
    return " ".join(parts)


def _most_severe(incident: Incident) -> str:
    root = incident.root
    if incident.symptoms and not root.observed:
        # The root is an object with no finding of its own (a ConfigMap): lead with the worst
        # thing it breaks, then name it.
        worst = incident.symptoms[0]
        return (
            f"Most severe: {worst.reason} on {worst.subject}, caused by {root.ref} ({root.reason})."
        )
    finding = incident.finding
    return f"Most severe: {finding.reason} on {finding.subject}{_caused_by(finding)}."


def _cause_sentence(incident: Incident) -> str:
    root = incident.root
    count = len(incident.symptoms)
    return (
        f"Root cause: {root.reason} on {root.ref} ({root.summary[:200]}) explains"
        f" {count} other finding{'' if count == 1 else 's'}."
    )


def _action(incident: Incident) -> str:
    finding = incident.finding
    if incident.symptoms:
        # Fix the cause, not the symptom: the cause leads the line.
        root, worst = incident.root, incident.symptoms[0]
        more = len(incident.symptoms) - 1
        return (
            f"Investigate {root.ref} ({root.reason}), the cause of {worst.reason} on"
            f" {worst.subject}{f' and {more} more finding(s)' if more else ''}:"
            f" {root.summary[:300]}"
        )
    return f"Investigate {finding.reason} on {finding.subject}: {finding.message}"


def _caused_by(finding: Finding) -> str:
    cause = finding.caused_by
    return f", caused by {cause.ref} ({cause.reason})" if cause is not None else ""
