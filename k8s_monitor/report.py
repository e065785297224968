"""The cycle report: what one cycle saw and did, written to ``REPORT_DIR`` and summarised in logs.

It is the last stage's input and the daemon's only output besides notifications, so metrics,
the summary log line and the JSON file are all derived from this one record.

On disk (``cycle-<time>-<n>.json``, schema_version 2) every field is a typed record below:

- ``findings``: ``FindingRecord`` (kind, namespace, name, objects, reason, severity, message,
  evidence, caused_by: ``CauseRecord`` or null, fingerprint); evidence is the rule's own
  key -> value map plus ``investigation`` records (``investigate.records``);
- ``incidents``: ``IncidentRecord`` per open incident, grouped by root cause (fingerprint,
  root_cause: ``RootRecord``, severity, findings: fingerprints);
- ``incident_changes``: status (new, recurring, resolved, flapping) -> ``IncidentSummary``;
- ``evidence``: ``EvidenceStats``; ``escalations``: ``EscalationRecord``;
- ``investigation``: ``InvestigationRecord`` or null; ``root_causes``: fingerprint ->
  ``RootCauseRecord``; ``usage``: ``ModelUsage``.

Version 1 (no ``schema_version``) had the same keys as untyped maps; ``read_report`` loads it,
and older files with ``incidents`` keyed by status, as version 2.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct, field

from k8s_monitor.atomicfile import write_atomic
from k8s_monitor.redaction import GUARD

REPORT_GLOB = "cycle-*.json"
SCHEMA_VERSION = 2  # 1: no schema_version field, records as untyped maps


class Outcome(StrEnum):
    OK = "ok"  # every stage ran
    DEGRADED = "degraded"  # ran, but partly blind (collection gaps) or without the model
    FAILED = "failed"  # the cycle could not complete (apiserver unreachable, storage failure)


class ModelUsage(Struct, kw_only=True):
    """Token kinds of one cycle's model calls, and what they cost."""

    requests: int = 0
    input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    billed_equivalent_tokens: float = 0.0
    cost_usd: float = 0.0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            **{name: getattr(self, name) + getattr(other, name) for name in self.__struct_fields__}
        )


class ObjectRecord(Struct, kw_only=True):
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str


class CauseRecord(Struct, kw_only=True):
    """The object a symptom's trouble comes from, and why."""

    kind: str
    namespace: str
    name: str
    reason: str


class RootRecord(Struct, kw_only=True):
    """The object at the end of a cause chain, why, and one line for people."""

    kind: str
    namespace: str
    name: str
    reason: str
    summary: str = ""


class FindingRecord(Struct, kw_only=True):
    """One finding; also the public shape of ``analyze --format json``."""

    kind: str
    namespace: str
    name: str
    objects: list[ObjectRecord] = []
    reason: str
    severity: str  # critical | warning | info
    message: str
    # Per rule (log excerpts, events, conditions...) and "investigation" records: open-ended.
    evidence: dict[str, Any] = field(default_factory=dict)
    caused_by: CauseRecord | None = None
    fingerprint: str


class IncidentRecord(Struct, kw_only=True):
    """One open incident, grouped by root cause, and the findings (fingerprints) it covers."""

    fingerprint: str
    root_cause: RootRecord
    severity: str
    findings: list[str] = []


class IncidentSummary(Struct, kw_only=True):
    """One incident in a few fields (no evidence); defaults fill fields older reports lack."""

    fingerprint: str
    reason: str
    subject: str = ""  # Kind/namespace/name
    severity: str = ""
    status: str = ""  # new | recurring | resolved | flapping
    open_since: str = ""  # ISO 8601
    open_minutes: int = 0
    cycles_seen: int = 0
    trend: str = ""  # worsening | stable | improving
    affected: int = 0  # objects of the finding
    reopened: int = 0
    resolved_at: str | None = None
    message: str = ""  # at most 300 characters
    cause: RootRecord | None = None
    symptoms: list[str] = []  # fingerprints
    root_cause: str | None = None  # an investigation's summary, at most 300 characters


class EscalationRecord(Struct, kw_only=True):
    """Why an open incident got its SEV level, and whom it concerns."""

    fingerprint: str
    sev: str  # SEV-1..SEV-4
    floor: str  # the level the rules alone give
    priority: str
    service: str
    status: str
    reason: str
    subject: str
    open_since: str  # ISO 8601
    why: list[str] = []


class EvidenceStats(Struct, kw_only=True):
    """What the evidence stage did: findings investigated, extra API requests, seconds."""

    investigated: int = 0
    requests: int = 0
    seconds: float = 0.0


class InvestigationRecord(Struct, kw_only=True):
    """The model's tool loop in one cycle: calls, errors, limits hit."""

    incidents: list[str] = []
    reused_root_causes: list[str] = []
    tool_calls: int = 0
    tool_errors: int = 0
    refused_calls: int = 0
    truncated_replies: int = 0
    unknown_tools: int = 0
    bad_inputs: int = 0
    rounds: int = 0
    stopped: str | None = None  # tool_calls | tokens | deadline
    seconds: float = 0.0
    billed_tokens: float = 0.0
    max_output_chars: int = 0


class RootCauseRecord(Struct, kw_only=True):
    """An investigation's diagnosis of one incident, with the evidence it rests on."""

    summary: str
    evidence: list[str] = []
    confidence: str = "medium"  # low | medium | high
    next_steps: list[str] = []
    found_in_cycle: int = 0


class CycleReport(Struct, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    cycle: int
    cluster: str
    mode: str  # "persistent" | "stateless"
    session_id: str
    started_at: datetime
    duration_seconds: float = 0.0
    outcome: Outcome = Outcome.OK
    error: str | None = None  # error type and one-line reason when the cycle failed
    overall_health: str = "unknown"  # healthy | degraded | critical | unknown
    analysis_source: str = "none"  # model | offline | fallback | quiet | none
    # Why the model was asked this cycle (new, resolved, changed, heartbeat...) or "quiet".
    llm_call: str = "none"
    summary: str = ""
    recommended_actions: list[str] = []
    findings_by_severity: dict[str, int] = field(default_factory=dict)
    findings: list[FindingRecord] = []
    incidents: list[IncidentRecord] = []
    # new | recurring | resolved | flapping -> the incidents that changed so this cycle
    incident_changes: dict[str, list[IncidentSummary]] = field(default_factory=dict)
    evidence: EvidenceStats = field(default_factory=EvidenceStats)
    escalations: list[EscalationRecord] = []
    notifications: dict[str, int] = field(default_factory=dict)  # outcome -> count
    collection_gaps: list[str] = []
    usage: ModelUsage = field(default_factory=ModelUsage)
    # Share of this cycle's prompt tokens read from the cache; None without a model request.
    cache_hit_rate: float | None = None
    context_tokens: int = 0
    context_ratio: float = 0.0
    pruned: bool = False
    # The model's tool loop this cycle (calls, errors, limits hit) and the root causes it found.
    investigation: InvestigationRecord | None = None
    root_causes: dict[str, RootCauseRecord] = field(default_factory=dict)
    report_path: str | None = None


def cache_hit_rate(usage: ModelUsage) -> float | None:
    prompt = (
        usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_5m_tokens
        + usage.cache_write_1h_tokens
    )
    if usage.requests <= 0 or prompt <= 0:
        return None
    return round(usage.cache_read_tokens / prompt, 4)


def write_report(report: CycleReport, report_dir: Path, retention: int) -> Path:
    """Write ``report`` atomically as ``cycle-<time>-<n>.json`` and keep the newest ``retention``.

    The time comes first so names sort chronologically even when a new session restarts the
    cycle count in the same directory.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = report.started_at.strftime("%Y%m%dT%H%M%S.%fZ")
    path = report_dir / f"cycle-{stamp}-{report.cycle:06d}.json"
    report.report_path = str(path)
    checked = GUARD.obj("report", msgspec.to_builtins(report))
    payload = msgspec.json.format(msgspec.json.encode(checked), indent=2)
    # Reports are read by people mid-incident; a half-written one is worse than none.
    write_atomic(path, payload, durable=False)
    _apply_retention(report_dir, retention)
    return path


def read_report(path: Path) -> CycleReport:
    """A report file of any version, as the current ``CycleReport``.

    Version 1 holds the same keys untyped, so it converts as is; those written before root
    causes (``incidents`` by status) get them moved to ``incident_changes``.
    """
    raw = msgspec.json.decode(path.read_bytes())
    if isinstance(raw, dict):
        if isinstance(raw.get("incidents"), dict):
            raw["incident_changes"] = raw.pop("incidents")
        raw.setdefault("schema_version", SCHEMA_VERSION)  # version 1 lacks only the field
    # Lax: version 1 typed evidence counts as floats, so a rewritten report holds 31.0.
    return msgspec.convert(raw, CycleReport, strict=False)


def latest_reports(report_dir: Path, count: int = 1) -> list[Path]:
    """The newest ``count`` reports, newest first."""
    return sorted(report_dir.glob(REPORT_GLOB), reverse=True)[:count]


def _apply_retention(report_dir: Path, retention: int) -> None:
    for old in sorted(report_dir.glob(REPORT_GLOB), reverse=True)[retention:]:
        old.unlink(missing_ok=True)
