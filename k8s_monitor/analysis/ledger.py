"""The incident ledger: findings remembered across cycles, and its atomic file store.

``update_ledger`` is a pure function of the previous ledger and this cycle's findings; the store
is the only part that touches disk. A corrupt file is moved aside (never overwritten) and the
monitor starts from an empty ledger rather than stopping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import structlog

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import (
    Incident,
    IncidentStatus,
    Ledger,
    LedgerUpdate,
    Trend,
)
from k8s_monitor.atomicfile import write_atomic
from k8s_monitor.errors import StorageError
from k8s_monitor.redaction import GUARD

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
# A resolved incident that comes back this many times is flapping.
FLAP_REOPENS = 2
# Resolved incidents are kept this long so that a return is recognised as a reopen.
RESOLVED_RETENTION = timedelta(hours=24)


def update_ledger(
    previous: Ledger,
    findings: list[Finding],
    *,
    now: datetime,
    resolve_after: int = 1,
    unobserved_kinds: frozenset[str] = frozenset(),
) -> tuple[Ledger, LedgerUpdate]:
    """The next ledger (cycle + 1) and what changed: new, recurring, resolved, flapping.

    ``unobserved_kinds`` are the object kinds this cycle could not read (collection gaps). An
    open incident about such a kind is carried unchanged when absent: not seeing a crash loop
    because the pod list timed out is not evidence that it stopped.
    """
    cycle = previous.cycle + 1
    current = _by_fingerprint(findings)
    incidents: dict[str, Incident] = {}
    update = LedgerUpdate(cycle=cycle, new=[], recurring=[], resolved=[], flapping=[])
    for fingerprint, finding in sorted(current.items()):
        incident = _observed(previous.incidents.get(fingerprint), finding, now, cycle)
        incidents[fingerprint] = incident
        _bucket(update, incident).append(incident)
    for fingerprint, old in sorted(previous.incidents.items()):
        if fingerprint in current:
            continue
        if old.is_open and _unobserved(old, unobserved_kinds):
            incidents[fingerprint] = old
        elif old.is_open:
            incident = _absent(old, now, resolve_after)
            incidents[fingerprint] = incident
            if incident.status is IncidentStatus.RESOLVED:
                update.resolved.append(incident)
        elif now - (old.resolved_at or old.last_seen) < RESOLVED_RETENTION:
            incidents[fingerprint] = old
    return Ledger(cycle=cycle, incidents=incidents), update


def _unobserved(incident: Incident, kinds: frozenset[str]) -> bool:
    finding = incident.finding
    return finding.subject.kind in kinds or any(o.kind in kinds for o in finding.objects)


def _by_fingerprint(findings: list[Finding]) -> dict[str, Finding]:
    result: dict[str, Finding] = {}
    for finding in findings:
        seen = result.get(finding.fingerprint)
        if seen is None or finding.severity.rank > seen.severity.rank:
            result[finding.fingerprint] = finding
    return result


def _bucket(update: LedgerUpdate, incident: Incident) -> list[Incident]:
    return {
        IncidentStatus.NEW: update.new,
        IncidentStatus.RECURRING: update.recurring,
        IncidentStatus.FLAPPING: update.flapping,
    }[incident.status]


def _observed(old: Incident | None, finding: Finding, now: datetime, cycle: int) -> Incident:
    if old is None:
        return Incident(
            fingerprint=finding.fingerprint,
            finding=finding,
            status=IncidentStatus.NEW,
            first_seen=now,
            last_seen=now,
            first_cycle=cycle,
            last_cycle=cycle,
            opened_at=now,
        )
    if old.is_open:
        status = (
            IncidentStatus.FLAPPING
            if old.status is IncidentStatus.FLAPPING
            else IncidentStatus.RECURRING
        )
        return msgspec.structs.replace(
            old,
            finding=finding,
            status=status,
            last_seen=now,
            last_cycle=cycle,
            cycles_seen=old.cycles_seen + 1,
            cycles_absent=0,
            trend=trend_between(old.finding, finding),
        )
    reopens = old.reopen_count + 1
    return msgspec.structs.replace(
        old,
        finding=finding,
        status=IncidentStatus.FLAPPING if reopens >= FLAP_REOPENS else IncidentStatus.NEW,
        last_seen=now,
        last_cycle=cycle,
        cycles_seen=old.cycles_seen + 1,
        cycles_absent=0,
        trend=Trend.STABLE,
        reopen_count=reopens,
        resolved_at=None,
        opened_at=now,
    )


def _absent(old: Incident, now: datetime, resolve_after: int) -> Incident:
    absent = old.cycles_absent + 1
    if absent < resolve_after:
        return msgspec.structs.replace(old, cycles_absent=absent)
    return msgspec.structs.replace(
        old, status=IncidentStatus.RESOLVED, cycles_absent=absent, resolved_at=now
    )


def trend_between(before: Finding, after: Finding) -> Trend:
    """Worse severity or more affected objects is worsening; the reverse is improving."""
    delta = after.severity.rank - before.severity.rank
    if delta == 0:
        delta = len(after.objects) - len(before.objects)
    if delta > 0:
        return Trend.WORSENING
    if delta < 0:
        return Trend.IMPROVING
    return Trend.STABLE


# --- compact views for the model, reports and compaction summaries ------------------------------


def incident_summary(incident: Incident, now: datetime) -> dict[str, Any]:
    """One incident as a small JSON-able dict (no evidence: that stays in the report)."""
    finding = incident.finding
    return {
        "fingerprint": incident.fingerprint,
        "reason": finding.reason,
        "subject": str(finding.subject),
        "severity": finding.severity.value,
        "status": incident.status.value,
        "open_since": incident.open_since.isoformat(),
        "open_minutes": int((now - incident.open_since).total_seconds() // 60),
        "cycles_seen": incident.cycles_seen,
        "trend": incident.trend.value,
        "affected": len(finding.objects),
        "reopened": incident.reopen_count,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "message": finding.message[:300],
    }


def ledger_digest(ledger: Ledger, now: datetime, limit: int = 30) -> list[dict[str, Any]]:
    """Open incidents (worst and oldest first), then recently resolved ones, at most ``limit``."""
    open_incidents = sorted(
        ledger.open_incidents(),
        key=lambda i: (-i.finding.severity.rank, i.open_since, i.fingerprint),
    )
    resolved = sorted(
        (i for i in ledger.incidents.values() if not i.is_open),
        key=lambda i: (i.resolved_at or i.last_seen, i.fingerprint),
        reverse=True,
    )
    return [incident_summary(i, now) for i in [*open_incidents, *resolved][:limit]]


def ledger_to_builtins(ledger: Ledger) -> dict[str, Any]:
    """Plain JSON types, to embed the ledger in a session file (persistent mode)."""
    value: dict[str, Any] = msgspec.to_builtins(ledger)
    return value


def ledger_from_builtins(value: Any) -> Ledger:
    """The inverse of ``ledger_to_builtins``; ``StorageError`` when the data does not fit."""
    try:
        return msgspec.convert(value, Ledger)
    except msgspec.ValidationError as exc:
        raise StorageError(f"embedded ledger is invalid: {exc}") from exc


# --- persistence -------------------------------------------------------------------------------


class _LedgerFile(msgspec.Struct, kw_only=True):
    schema_version: int
    saved_at: datetime
    ledger: Ledger


class LedgerStore:
    """One ledger in one JSON file, replaced atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Ledger:
        """The saved ledger; empty when absent; empty, with the file quarantined, when corrupt."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Ledger()
        except OSError as exc:
            raise StorageError(f"cannot read ledger {self.path}: {exc}") from exc
        try:
            stored = msgspec.json.decode(data, type=_LedgerFile)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._quarantine(str(exc))
            return Ledger()
        if stored.schema_version != SCHEMA_VERSION:
            self._quarantine(f"unknown schema_version {stored.schema_version}")
            return Ledger()
        return stored.ledger

    def save(self, ledger: Ledger, *, now: datetime | None = None) -> None:
        stamp = now or datetime.now(UTC)
        document = _LedgerFile(schema_version=SCHEMA_VERSION, saved_at=stamp, ledger=ledger)
        payload = msgspec.json.encode(GUARD.obj("ledger", msgspec.to_builtins(document)))
        write_atomic(self.path, payload)

    def _quarantine(self, problem: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(target)
        except OSError as exc:
            raise StorageError(f"cannot quarantine corrupt ledger {self.path}: {exc}") from exc
        log.warning(
            "ledger_corrupt_quarantined", path=str(self.path), moved_to=str(target), error=problem
        )
