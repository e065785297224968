"""The cycle report: what one cycle saw and did, written to ``REPORT_DIR`` and summarised in logs.

It is the last stage's input and the daemon's only output besides notifications, so metrics,
the summary log line and the JSON file are all derived from this one record.
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


class CycleReport(Struct, kw_only=True):
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
    # Every finding (Finding.to_json): caused_by (null or {kind, namespace, name, reason}),
    # evidence (with "investigation" records for new or worsened findings).
    findings: list[dict[str, Any]] = []
    # One entry per open incident, grouped by root cause: {fingerprint, root_cause: {kind,
    # namespace, name, reason, summary}, severity, findings: [fingerprints]}.
    incidents: list[dict[str, Any]] = []
    # status -> incident summaries (reason, subject, severity, open since, trend...)
    incident_changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # What the evidence stage did: findings investigated, extra API requests, seconds.
    evidence: dict[str, float] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = []
    notifications: dict[str, int] = field(default_factory=dict)  # outcome -> count
    collection_gaps: list[str] = []
    usage: ModelUsage = field(default_factory=ModelUsage)
    # Share of this cycle's prompt tokens read from the cache; None without a model request.
    cache_hit_rate: float | None = None
    context_tokens: int = 0
    context_ratio: float = 0.0
    pruned: bool = False
    # The model's tool loop this cycle (calls, errors, limits hit) and the root causes it found.
    investigation: dict[str, Any] | None = None
    root_causes: dict[str, dict[str, Any]] = field(default_factory=dict)
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
    """A report file; those written before root causes (``incidents`` by status) still load."""
    raw = msgspec.json.decode(path.read_bytes())
    if isinstance(raw, dict) and isinstance(raw.get("incidents"), dict):
        raw["incident_changes"] = raw.pop("incidents")
    return msgspec.convert(raw, CycleReport)


def latest_reports(report_dir: Path, count: int = 1) -> list[Path]:
    """The newest ``count`` reports, newest first."""
    return sorted(report_dir.glob(REPORT_GLOB), reverse=True)[:count]


def _apply_retention(report_dir: Path, retention: int) -> None:
    for old in sorted(report_dir.glob(REPORT_GLOB), reverse=True)[retention:]:
        old.unlink(missing_ok=True)
