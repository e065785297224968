"""Shared test builders for typed findings and incidents, at one fixed instant ``T0``.

Raw Kubernetes JSON has one builder per layer, named for it: ``tests/unit/cluster/objects.py``
(API list items, as the collector reads them) and ``tests/unit/analysis/helpers.py`` (dump
objects, timed on the day of its ``NOW``). A module whose data needs another instant derives it
from ``T0`` (``NOW = T0 + timedelta(...)``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import Incident, IncidentStatus

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def finding(
    name: str = "web",
    severity: Severity = Severity.WARNING,
    *,
    namespace: str = "shop",
    kind: str = "Deployment",
    reason: str = "CrashLoopBackOff",
    message: str = "",
    evidence: dict[str, Any] | None = None,
    objects: tuple[ObjectRef, ...] | None = None,
) -> Finding:
    """A finding on one object; ``objects`` defaults to the subject alone."""
    subject = ObjectRef(kind=kind, namespace=namespace, name=name)
    return Finding(
        subject=subject,
        reason=reason,
        severity=severity,
        message=message or f"{name} is failing",
        objects=(subject,) if objects is None else objects,
        evidence={"restarts": 5} if evidence is None else evidence,
    )


def incident(
    found: Finding | None = None,
    *,
    status: IncidentStatus = IncidentStatus.RECURRING,
    at: datetime = T0,
    first_cycle: int = 1,
    last_cycle: int = 1,
    **extra: Any,
) -> Incident:
    """An incident for one finding, first and last seen at ``at``."""
    found = found or finding()
    return Incident(
        fingerprint=found.fingerprint,
        finding=found,
        status=status,
        first_seen=at,
        last_seen=at,
        first_cycle=first_cycle,
        last_cycle=last_cycle,
        **extra,
    )
