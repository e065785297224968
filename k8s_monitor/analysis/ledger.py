"""The incident ledger: findings remembered across cycles, and its atomic file store.

``update_ledger`` is a pure function of the previous ledger and this cycle's findings; it groups
the findings under their root causes (``analysis.causes``), one incident per root, and remembers
each symptom's cause so that a cause found once (by evidence gathered when the symptom was new)
still holds while its root is open. The store
is the only part that touches disk. A corrupt file is moved aside (never overwritten) and the
monitor starts from an empty ledger rather than stopping.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import structlog

from k8s_monitor.analysis.causes import CauseGroup, group_by_root_cause
from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef
from k8s_monitor.analysis.incidents import (
    Incident,
    IncidentStatus,
    Ledger,
    LedgerUpdate,
    RootCause,
    Trend,
)
from k8s_monitor.atomicfile import write_atomic
from k8s_monitor.errors import StorageError
from k8s_monitor.redaction import GUARD
from k8s_monitor.report import IncidentSummary

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
# A resolved incident that comes back this many times is flapping.
FLAP_REOPENS = 2
# Resolved incidents are kept this long so that a return is recognised as a reopen.
RESOLVED_RETENTION = timedelta(hours=24)
# An incident made from symptoms names at most this many affected objects.
MAX_GROUP_OBJECTS = 200


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
    linked = remember_causes(previous, list(_by_fingerprint(findings).values()))
    current = {group.fingerprint: group for group in group_by_root_cause(linked)}
    incidents: dict[str, Incident] = {}
    update = LedgerUpdate(cycle=cycle, new=[], recurring=[], resolved=[], flapping=[])
    for fingerprint, group in sorted(current.items()):
        incident = _observed(previous.incidents.get(fingerprint), group, now, cycle)
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


def remember_causes(previous: Ledger, findings: list[Finding]) -> list[Finding]:
    """Findings with the cause they had last cycle, where none was found now and it still holds.

    It still holds while the root is open: its own finding is present, or (for a root only
    inferred from its symptoms, such as a missing ConfigMap) the symptom itself is.
    """
    present = {(f.subject, f.reason) for f in findings}
    memory: dict[str, CauseRef] = {}
    for incident in previous.open_incidents():
        root = incident.cause_root
        if root is None or (root.observed and (root.ref, root.reason) not in present):
            continue
        for symptom in incident.symptoms:
            if symptom.caused_by is not None:
                memory[symptom.fingerprint] = symptom.caused_by
    return [
        msgspec.structs.replace(f, caused_by=memory[f.fingerprint])
        if f.caused_by is None and f.fingerprint in memory
        else f
        for f in findings
    ]


def representative(group: CauseGroup) -> Finding:
    """The finding an incident shows: the root's own, at the worst severity of its group.

    A root known only from its symptoms (a missing ConfigMap) gets a finding made from them.
    """
    severity = group.severity
    if group.root_finding is not None:
        return msgspec.structs.replace(group.root_finding, severity=severity)
    root = group.root
    symptoms = group.symptoms
    affected = sorted({o for f in symptoms for o in (f.subject, *f.objects)})
    worst = symptoms[0] if symptoms else None
    evidence: dict[str, Any] = {"symptoms": len(symptoms)}
    if worst is not None and "service" in worst.evidence:
        evidence["service"] = worst.evidence["service"]
    noun = "finding" if len(symptoms) == 1 else "findings"
    return Finding(
        subject=root.ref,
        reason=root.reason,
        severity=severity,
        message=f"{root.summary} ({len(symptoms)} {noun} explained)",
        objects=tuple(affected[:MAX_GROUP_OBJECTS]),
        evidence=evidence,
    )


def _unobserved(incident: Incident, kinds: frozenset[str]) -> bool:
    refs: list[ObjectRef] = [
        o for finding in incident.findings for o in (finding.subject, *finding.objects)
    ]
    return any(o.kind in kinds for o in refs)


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


def _observed(old: Incident | None, group: CauseGroup, now: datetime, cycle: int) -> Incident:
    finding = representative(group)
    symptoms = list(group.symptoms)
    if old is None:
        return Incident(
            fingerprint=group.fingerprint,
            finding=finding,
            status=IncidentStatus.NEW,
            first_seen=now,
            last_seen=now,
            first_cycle=cycle,
            last_cycle=cycle,
            opened_at=now,
            cause_root=group.root,
            symptoms=symptoms,
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
            trend=trend_between(old.finding, finding, len(old.symptoms), len(symptoms)),
            cause_root=group.root,
            symptoms=symptoms,
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
        cause_root=group.root,
        symptoms=symptoms,
    )


def _absent(old: Incident, now: datetime, resolve_after: int) -> Incident:
    absent = old.cycles_absent + 1
    if absent < resolve_after:
        return msgspec.structs.replace(old, cycles_absent=absent)
    return msgspec.structs.replace(
        old, status=IncidentStatus.RESOLVED, cycles_absent=absent, resolved_at=now
    )


def trend_between(
    before: Finding, after: Finding, symptoms_before: int = 0, symptoms_after: int = 0
) -> Trend:
    """Worse severity or more affected objects or symptoms is worsening; the reverse improving."""
    delta = after.severity.rank - before.severity.rank
    if delta == 0:
        delta = len(after.objects) + symptoms_after - len(before.objects) - symptoms_before
    if delta > 0:
        return Trend.WORSENING
    if delta < 0:
        return Trend.IMPROVING
    return Trend.STABLE


# --- root causes ----------------------------------------------------------------------------------

# Evidence fields that change every cycle without changing the diagnosis (counters, times, log
# text with its timestamps): left out of the evidence key.
_VOLATILE_KEYS = frozenset(
    {"count", "restarts", "restart_count", "last_seen", "first_seen", "started_at", "finished_at"}
)
_VOLATILE_SUFFIXES = ("_at", "_seen", "_time", "_minutes", "_seconds", "_count", "log", "logs")
_KEY_TEXT_MAX = 200


def evidence_key(finding: Finding) -> str:
    """A hash of what would change the diagnosis: reason, severity, cause, stable evidence.

    A recurring incident with the same key is not investigated again; its remembered root
    cause is reused.
    """
    stable = {
        "reason": finding.reason,
        "severity": finding.severity.value,
        "subject": str(finding.subject),
        "caused_by": finding.caused_by.to_json() if finding.caused_by else None,
        "evidence": _stable(finding.evidence),
    }
    return hashlib.sha256(msgspec.json.encode(stable, order="sorted")).hexdigest()[:16]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): _stable(v)
            for k, v in value.items()
            if str(k) not in _VOLATILE_KEYS and not str(k).endswith(_VOLATILE_SUFFIXES)
        }
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, str) and len(value) > _KEY_TEXT_MAX:
        return None  # long free text (messages, logs) carries times and counters
    return value


def needs_investigation(incident: Incident) -> bool:
    """No remembered root cause, or one found when the evidence was different."""
    cause = incident.root_cause
    return cause is None or cause.evidence_key != evidence_key(incident.finding)


def with_root_causes(ledger: Ledger, causes: dict[str, RootCause]) -> Ledger:
    """``ledger`` with ``causes`` remembered on their (known) incidents."""
    if not causes:
        return ledger
    incidents = dict(ledger.incidents)
    for fingerprint, cause in causes.items():
        incident = incidents.get(fingerprint)
        if incident is not None:
            incidents[fingerprint] = msgspec.structs.replace(incident, root_cause=cause)
    return Ledger(cycle=ledger.cycle, incidents=incidents)


def update_with_root_causes(update: LedgerUpdate, causes: dict[str, RootCause]) -> LedgerUpdate:
    """``update`` whose incidents carry ``causes`` (for this cycle's escalations and report)."""

    def carry(incidents: list[Incident]) -> list[Incident]:
        return [
            msgspec.structs.replace(i, root_cause=causes[i.fingerprint])
            if i.fingerprint in causes
            else i
            for i in incidents
        ]

    return LedgerUpdate(
        cycle=update.cycle,
        new=carry(update.new),
        recurring=carry(update.recurring),
        resolved=update.resolved,
        flapping=carry(update.flapping),
    )


# --- compact views for the model, reports and compaction summaries ------------------------------


def incident_summary(incident: Incident, now: datetime) -> IncidentSummary:
    """One incident in a few fields (no evidence: that stays in the report)."""
    finding = incident.finding
    return IncidentSummary(
        fingerprint=incident.fingerprint,
        reason=finding.reason,
        subject=str(finding.subject),
        severity=finding.severity.value,
        status=incident.status.value,
        open_since=incident.open_since.isoformat(),
        open_minutes=int((now - incident.open_since).total_seconds() // 60),
        cycles_seen=incident.cycles_seen,
        trend=incident.trend.value,
        affected=len(finding.objects),
        reopened=incident.reopen_count,
        resolved_at=incident.resolved_at.isoformat() if incident.resolved_at else None,
        message=finding.message[:300],
        cause=incident.cause_root.to_json() if incident.cause_root else None,
        symptoms=[s.fingerprint for s in incident.symptoms],
        root_cause=incident.root_cause.summary[:300] if incident.root_cause is not None else None,
    )


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
    chosen = [*open_incidents, *resolved][:limit]
    return [msgspec.to_builtins(incident_summary(i, now)) for i in chosen]


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

    def peek(self) -> Ledger:
        """The saved ledger for a reader beside the daemon: nothing moved, nothing written.

        Empty when absent; ``StorageError`` when it cannot be read or decoded.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Ledger()
        except OSError as exc:
            raise StorageError(f"cannot read ledger {self.path}: {exc}") from exc
        try:
            return msgspec.json.decode(data, type=_LedgerFile).ledger
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StorageError(f"ledger {self.path} is unreadable: {exc}") from exc

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
