"""Incidents: findings remembered across cycles, keyed by fingerprint.

These are the models the ledger (``analysis.ledger``) produces and everyone downstream reads:
the model's messages, escalation, notifications, compaction summaries and reports.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from msgspec import Struct, field

from k8s_monitor.analysis.findings import Finding


class IncidentStatus(StrEnum):
    NEW = "new"  # first seen this cycle
    RECURRING = "recurring"  # seen before, still present
    RESOLVED = "resolved"  # absent for the configured number of cycles
    FLAPPING = "flapping"  # resolved and back, repeatedly


class Trend(StrEnum):
    WORSENING = "worsening"
    STABLE = "stable"
    IMPROVING = "improving"


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

    def to_json(self) -> dict[str, object]:
        return {
            "summary": self.summary,
            "evidence": list(self.evidence),
            "confidence": self.confidence,
            "next_steps": list(self.next_steps),
            "found_in_cycle": self.cycle,
        }


class Incident(Struct, kw_only=True):
    fingerprint: str
    finding: Finding  # the latest occurrence
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

    @property
    def open_since(self) -> datetime:
        return self.opened_at or self.first_seen

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED


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
