"""Incidents: findings remembered across cycles, one per root cause, keyed by its fingerprint.

A finding with no cause in another object is its own root: its incident has its fingerprint, as
before causes existed. Findings explained by a root cause (pods on a NotReady node, a pod whose
ConfigMap is missing) are that incident's ``symptoms``; the incident keeps its fingerprint while
symptoms come and go.

These are the models the ledger (``analysis.ledger``) produces and everyone downstream reads:
the model's messages, escalation, notifications, compaction summaries and reports.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from msgspec import Struct, field

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity, fingerprint_of
from k8s_monitor.report import IncidentRecord, RootCauseRecord, RootRecord


class IncidentStatus(StrEnum):
    NEW = "new"  # first seen this cycle
    RECURRING = "recurring"  # seen before, still present
    RESOLVED = "resolved"  # absent for the configured number of cycles
    FLAPPING = "flapping"  # resolved and back, repeatedly


class Trend(StrEnum):
    WORSENING = "worsening"
    STABLE = "stable"
    IMPROVING = "improving"


class RootObject(Struct, frozen=True, kw_only=True):
    """The object at the end of a cause chain, why, and one line for people.

    Deterministic (``analysis.causes``); an investigation's diagnosis is ``RootCause``.
    """

    kind: str
    namespace: str
    name: str
    reason: str
    summary: str = ""
    observed: bool = True  # a finding about the root object itself exists (else inferred)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(kind=self.kind, namespace=self.namespace, name=self.name)

    @property
    def cause(self) -> CauseRef:
        return CauseRef(
            kind=self.kind, namespace=self.namespace, name=self.name, reason=self.reason
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.reason, self.ref)

    def to_json(self) -> RootRecord:
        return RootRecord(
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            reason=self.reason,
            summary=self.summary,
        )


class RootCause(Struct, frozen=True, kw_only=True):
    """Why an incident happened, as an investigation found it, with the evidence it rests on.

    ``evidence_key`` is the finding's evidence key (``ledger.evidence_key``) when this was
    found: while it is unchanged the incident is not investigated again.
    """

    summary: str
    evidence: tuple[str, ...] = ()  # quoted from tool results
    confidence: str = "medium"  # low | medium | high
    next_steps: tuple[str, ...] = ()  # commands for a person; the monitor never runs them
    evidence_key: str = ""
    cycle: int = 0

    def to_json(self) -> RootCauseRecord:
        return RootCauseRecord(
            summary=self.summary,
            evidence=list(self.evidence),
            confidence=self.confidence,
            next_steps=list(self.next_steps),
            found_in_cycle=self.cycle,
        )


class Incident(Struct, kw_only=True):
    fingerprint: str
    finding: Finding  # the root's latest finding (or one made from its symptoms)
    status: IncidentStatus
    first_seen: datetime
    last_seen: datetime
    first_cycle: int
    last_cycle: int
    cycles_seen: int = 1
    cycles_absent: int = 0
    trend: Trend = Trend.STABLE
    reopen_count: int = 0
    resolved_at: datetime | None = None
    opened_at: datetime | None = None  # start of the current open episode (reopens reset it)
    root_cause: RootCause | None = None  # remembered from the last investigation
    # The object at the end of the cause chain; None on ledgers written before causes (the
    # finding is its own root).
    cause_root: RootObject | None = None
    symptoms: list[Finding] = []  # findings this root cause explains, latest occurrence

    @property
    def findings(self) -> list[Finding]:
        """The root's finding and every symptom."""
        return [self.finding, *self.symptoms]

    @property
    def root(self) -> RootObject:
        """The root cause object; for ledgers written before causes, the finding's subject."""
        if self.cause_root is not None:
            return self.cause_root
        finding = self.finding
        return RootObject(
            kind=finding.subject.kind,
            namespace=finding.subject.namespace,
            name=finding.subject.name,
            reason=finding.reason,
            summary=finding.message[:500],
        )

    def entry(self) -> IncidentRecord:
        """The public shape of one incident in reports: its root cause and its findings."""
        root = self.root
        own = [self.finding.fingerprint] if root.observed else []
        return root_cause_entry(
            self.fingerprint, root, self.finding.severity, [*own, *self.symptom_fingerprints]
        )

    @property
    def symptom_fingerprints(self) -> list[str]:
        return [s.fingerprint for s in self.symptoms]

    @property
    def open_since(self) -> datetime:
        return self.opened_at or self.first_seen

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED


def root_cause_entry(
    fingerprint: str, root: RootObject, severity: Severity, findings: list[str]
) -> IncidentRecord:
    """One incident: its root cause object, severity and findings (fingerprints)."""
    return IncidentRecord(
        fingerprint=fingerprint,
        root_cause=root.to_json(),
        severity=severity.value,
        findings=findings,
    )


class Ledger(Struct, kw_only=True):
    """All incidents known to one session, open and recently resolved. Persisted each cycle."""

    cycle: int = 0
    incidents: dict[str, Incident] = field(default_factory=dict)

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.is_open]


class LedgerUpdate(Struct, kw_only=True):
    """What one cycle changed: the diff the model's message and notifications are built from."""

    cycle: int
    new: list[Incident] = []
    recurring: list[Incident] = []
    resolved: list[Incident] = []
    flapping: list[Incident] = []

    @property
    def open(self) -> list[Incident]:
        return [*self.new, *self.recurring, *self.flapping]
