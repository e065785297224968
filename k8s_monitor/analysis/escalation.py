"""Escalation: from open incidents to SEV-1..4 decisions.

The floor comes from the finding's severity and the service's priority::

                 P0      P1      P2      P3
    critical     SEV-1   SEV-2   SEV-2   SEV-3
    warning      SEV-2   SEV-3   SEV-3   SEV-4
    info         SEV-4   SEV-4   SEV-4   SEV-4

An incident open longer than its service's ``max_downtime`` is raised one level (never past
SEV-1). The model's assessment may raise a level further; it can never lower one below the floor,
because logs and events the model reads are untrusted text.

SEV-1/2 are notified at once, SEV-3 in one digest per cycle, SEV-4 only logged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum

from msgspec import Struct

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import Incident, IncidentStatus, LedgerUpdate
from k8s_monitor.analysis.services import Priority, Service, ServiceCatalog
from k8s_monitor.report import EscalationRecord

MONITOR_BLIND = "MonitorBlind"
MODEL_DISABLED = "ModelProviderDisabled"


class Sev(IntEnum):
    """Lower is worse: SEV-1 wakes people up, SEV-4 is a log line."""

    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4

    @property
    def label(self) -> str:
        return f"SEV-{self.value}"

    @property
    def immediate(self) -> bool:
        return self <= Sev.SEV2

    def raised(self) -> Sev:
        return Sev(max(self.value - 1, Sev.SEV1.value))

    @classmethod
    def parse(cls, value: str | int) -> Sev | None:
        """``"SEV-2"``, ``"sev2"``, ``"2"`` or ``2``; None for anything else.

        Labels come from the model's answer, which is untrusted: a bad one is ignored, the
        deterministic floor stands.
        """
        text = str(value).strip().upper().replace("SEV", "").lstrip("-_ ")
        try:
            return cls(int(text))
        except ValueError:
            return None


FLOOR: dict[Severity, dict[Priority, Sev]] = {
    Severity.CRITICAL: {
        Priority.P0: Sev.SEV1,
        Priority.P1: Sev.SEV2,
        Priority.P2: Sev.SEV2,
        Priority.P3: Sev.SEV3,
    },
    Severity.WARNING: {
        Priority.P0: Sev.SEV2,
        Priority.P1: Sev.SEV3,
        Priority.P2: Sev.SEV3,
        Priority.P3: Sev.SEV4,
    },
    Severity.INFO: {p: Sev.SEV4 for p in Priority},
}


class Escalation(Struct, kw_only=True):
    fingerprint: str
    incident: Incident
    sev: Sev
    floor: Sev
    priority: Priority
    service: str
    owner: str | None = None
    channel: str | None = None
    runbook_url: str | None = None
    why: list[str] = []

    @property
    def finding(self) -> Finding:
        return self.incident.finding

    def to_json(self) -> EscalationRecord:
        finding = self.finding
        return EscalationRecord(
            fingerprint=self.fingerprint,
            sev=self.sev.label,
            floor=self.floor.label,
            priority=self.priority.value,
            service=self.service,
            status=self.incident.status.value,
            reason=finding.reason,
            subject=str(finding.subject),
            open_since=self.incident.open_since.isoformat(),
            why=list(self.why),
        )


def floor_for(severity: Severity, priority: Priority) -> Sev:
    return FLOOR[severity][priority]


def escalate(
    update: LedgerUpdate,
    *,
    catalog: ServiceCatalog,
    now: datetime,
    model_severities: dict[str, Sev] | None = None,
) -> list[Escalation]:
    """One decision per open incident, most severe first."""
    model_severities = model_severities or {}
    decisions = [
        _decide(incident, catalog, now, model_severities.get(incident.fingerprint))
        for incident in update.open
    ]
    return sorted(decisions, key=lambda e: (e.sev, e.fingerprint))


def _decide(
    incident: Incident, catalog: ServiceCatalog, now: datetime, model: Sev | None
) -> Escalation:
    finding, service, floor = _worst_floor(incident, catalog)
    why = [f"{finding.severity.value} x {service.priority.value} -> {floor.label}"]
    if finding is not incident.finding:
        why.append(f"symptom {finding.reason} on {finding.subject} sets the floor")
    # A flapping incident has been a problem since it first appeared, whatever its bounces.
    since = (
        incident.first_seen if incident.status is IncidentStatus.FLAPPING else (incident.open_since)
    )
    open_for = now - since
    limit = service.max_downtime
    if limit is not None and finding.severity is not Severity.INFO and open_for > limit:
        floor = floor.raised()
        why.append(
            f"open {_duration(open_for)}, longer than max_downtime {_duration(limit)}"
            f" -> {floor.label}"
        )
    sev = floor
    if model is not None and model < floor:
        sev = model
        why.append(f"model assessment raised it to {model.label}")
    elif model is not None and model > floor:
        why.append(f"model suggested {model.label}; kept the floor {floor.label}")
    return Escalation(
        fingerprint=incident.fingerprint,
        incident=incident,
        sev=sev,
        floor=floor,
        priority=service.priority,
        service=service.name,
        owner=service.owner,
        channel=service.channel,
        runbook_url=service.runbook_url,
        why=why,
    )


def _worst_floor(incident: Incident, catalog: ServiceCatalog) -> tuple[Finding, Service, Sev]:
    """The root's floor, or a symptom's when its service ranks higher (a P0 pod on a bad node)."""
    root_service = catalog.service_for(incident.finding)
    best = (
        incident.finding,
        root_service,
        floor_for(incident.finding.severity, root_service.priority),
    )
    for finding in incident.symptoms:
        service = catalog.service_for(finding)
        floor = floor_for(finding.severity, service.priority)
        if floor < best[2]:
            best = (finding, service, floor)
    return best


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def blind_monitor_finding(cluster: str, consecutive_failures: int, reason: str) -> Finding:
    """The monitor itself cannot see the cluster: critical, and escalated like any incident."""
    subject = ObjectRef(kind="Cluster", namespace="", name=cluster)
    return Finding(
        subject=subject,
        reason=MONITOR_BLIND,
        severity=Severity.CRITICAL,
        message=(
            f"monitor is blind: {consecutive_failures} consecutive cycles could not read"
            f" cluster {cluster}: {reason[:300]}"
        ),
        objects=(subject,),
        evidence={"consecutive_failures": consecutive_failures, "error": reason[:500]},
    )


def model_disabled_finding(cluster: str, reason: str) -> Finding:
    """The model provider was disabled (spend limit, auth): analysis goes on without it.

    A warning, not a page: the deterministic monitoring still runs, but someone must raise the
    limit or fix the key before the model is used again (a restart re-enables it).
    """
    subject = ObjectRef(kind="Cluster", namespace="", name=cluster)
    return Finding(
        subject=subject,
        reason=MODEL_DISABLED,
        severity=Severity.WARNING,
        message=f"model provider disabled until restart: {reason[:300]}",
        objects=(subject,),
        evidence={"error": reason[:500]},
    )
