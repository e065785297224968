"""Findings: what the deterministic analysis says is wrong, in one typed shape.

A finding names its *subject* (the workload root when the problem is the workload's, e.g. the
Deployment rather than each crashing pod), every affected object, a canonical reason, a severity,
evidence, and a fingerprint stable across cycles, which the ledger and notifications key on.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from msgspec import Struct, field

from k8s_monitor.report import CauseRecord, FindingRecord, ObjectRecord


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; lets callers compare severities without a lookup table."""
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class ObjectRef(Struct, frozen=True, kw_only=True, order=True):
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind}/{self.name}")
        )


class CauseRef(Struct, frozen=True, kw_only=True):
    """The object a finding's trouble comes from, and why: ``Node//node-a NotReady``.

    Set on a symptom whose cause lies in another object (pods on a NotReady node, a pod whose
    ConfigMap is missing); ``None`` on a finding that is its own root cause.
    """

    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    reason: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(kind=self.kind, namespace=self.namespace, name=self.name)

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "reason": self.reason,
        }


def fingerprint_of(reason: str, subject: ObjectRef) -> str:
    """A short, stable id: same reason on the same subject is the same incident."""
    key = f"{reason}|{subject.kind}|{subject.namespace}|{subject.name}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class Finding(Struct, frozen=True, kw_only=True):
    subject: ObjectRef
    reason: str
    severity: Severity
    message: str
    objects: tuple[ObjectRef, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    caused_by: CauseRef | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.reason, self.subject)

    def to_json(self) -> FindingRecord:
        """The public shape of ``analyze --format json`` and of the report's findings."""
        cause = self.caused_by
        return FindingRecord(
            kind=self.subject.kind,
            namespace=self.subject.namespace,
            name=self.subject.name,
            objects=[
                ObjectRecord(kind=o.kind, namespace=o.namespace, name=o.name) for o in self.objects
            ],
            reason=self.reason,
            severity=self.severity.value,
            message=self.message,
            evidence=self.evidence,
            caused_by=(
                CauseRecord(
                    kind=cause.kind, namespace=cause.namespace, name=cause.name, reason=cause.reason
                )
                if cause is not None
                else None
            ),
            fingerprint=self.fingerprint,
        )


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    counts = {severity.value: 0 for severity in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts
