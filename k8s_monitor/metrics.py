"""Prometheus metrics of the daemon, all derived from the cycle report and a few events.

Each ``Metrics`` owns its own ``CollectorRegistry`` (tests build many; the process-wide default
registry would refuse duplicate names). Per-cycle state (findings, open incidents, health) is
exposed through a custom collector reading one immutable snapshot, replaced atomically at the end
of each cycle, so a scrape never sees a half-updated set of gauges.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from k8s_monitor import __version__
from k8s_monitor.errors import ClusterError, MonitorError, StorageError
from k8s_monitor.notify.notifier import DispatchResult
from k8s_monitor.report import CycleReport, Outcome
from k8s_monitor.sessions.events import SESSION_EVENTS

PREFIX = "k8s_monitor"

# A `_created` series per counter child doubles the series count and no rule here reads it.
# The switch is process-wide in prometheus_client; every registry of the daemon wants it.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The typed errors each stage of a cycle catches and counts (cycle/): their counters start at
# zero so that a rate() rule sees the first one. Crashes ("cycle") have no known type.
STAGE_ERRORS: Mapping[str, type[MonitorError]] = MappingProxyType(
    {"collect": ClusterError, "converse": StorageError, "report": StorageError}
)
# The notifier counts by outcome across its sinks; "pending" is a level, not an event.
NOTIFICATION_SINK = "all"
NOTIFICATION_OUTCOMES = tuple(
    name for name in DispatchResult.__struct_fields__ if name != "pending"
)

# A cycle lists the cluster, may call the model for up to LLM_TIMEOUT_SECONDS and notifies:
# seconds to minutes, so buckets start at half a second and stop at ten minutes.
CYCLE_DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# Token kinds as the Anthropic API bills them; label values of llm_tokens_total.
TOKEN_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "input": "input_tokens",
        "cache_write_5m": "cache_write_5m_tokens",
        "cache_write_1h": "cache_write_1h_tokens",
        "cache_read": "cache_read_tokens",
        "output": "output_tokens",
    }
)

OPEN_STATUSES = ("new", "recurring", "flapping")
LLM_FAILURE_KINDS = ("fallback", "disabled")
HEALTH_STATES = ("healthy", "degraded", "critical", "unknown")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CycleState:
    """What the last completed cycle saw; the source of the per-cycle gauges."""

    findings: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (severity, reason)
    incidents_open: Mapping[str, int] = field(default_factory=dict)  # severity -> count
    overall_health: str = UNKNOWN
    collection_gaps: int = 0


def cycle_state_of(report: CycleReport) -> CycleState:
    """Count the report's findings by (severity, reason) and its open incidents by severity."""
    findings: dict[tuple[str, str], int] = {}
    for item in report.findings:
        key = (item.severity or UNKNOWN, item.reason or UNKNOWN)
        findings[key] = findings.get(key, 0) + 1
    incidents_open: dict[str, int] = {}
    for status in OPEN_STATUSES:
        for incident in report.incident_changes.get(status, []):
            severity = incident.severity or UNKNOWN
            incidents_open[severity] = incidents_open.get(severity, 0) + 1
    health = report.overall_health if report.overall_health in HEALTH_STATES else UNKNOWN
    return CycleState(
        findings=findings,
        incidents_open=incidents_open,
        overall_health=health,
        collection_gaps=len(report.collection_gaps),
    )


class _CycleStateCollector(Collector):
    """Yields the gauges of the latest ``CycleState``; the reference swap is atomic."""

    def __init__(self) -> None:
        self.state = CycleState()

    def collect(self) -> Iterator[Metric]:
        state = self.state
        findings = GaugeMetricFamily(
            f"{PREFIX}_findings",
            "Findings of the last completed cycle, by severity and reason.",
            labels=["severity", "reason"],
        )
        for (severity, reason), count in sorted(state.findings.items()):
            findings.add_metric([severity, reason], count)
        yield findings
        incidents = GaugeMetricFamily(
            f"{PREFIX}_incidents_open",
            "Open incidents (new, recurring or flapping) after the last completed cycle.",
            labels=["severity"],
        )
        for severity, count in sorted(state.incidents_open.items()):
            incidents.add_metric([severity], count)
        yield incidents
        health = GaugeMetricFamily(
            f"{PREFIX}_cluster_health",
            "Overall cluster health of the last completed cycle (1 for the current state).",
            labels=["state"],
        )
        for name in HEALTH_STATES:
            health.add_metric([name], 1.0 if name == state.overall_health else 0.0)
        yield health
        yield GaugeMetricFamily(
            f"{PREFIX}_collection_gaps",
            "Resources the last cycle could not read (RBAC gaps, timeouts).",
            value=state.collection_gaps,
        )


class Metrics:
    """The daemon's metrics; ``registry`` is what ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._cycle_state = _CycleStateCollector()
        self.registry.register(self._cycle_state)
        self._build_metrics()

    def _build_metrics(self) -> None:
        r = self.registry
        self.build_info = Gauge(
            f"{PREFIX}_build_info", "Always 1; the version label.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        self.cycles = Counter(f"{PREFIX}_cycles", "Cycles by outcome.", ["outcome"], registry=r)
        for outcome in Outcome:
            self.cycles.labels(outcome=outcome.value)  # export zeros so rate() works from start
        self.cycle_duration = Histogram(
            f"{PREFIX}_cycle_duration_seconds",
            "Wall time of one cycle.",
            buckets=CYCLE_DURATION_BUCKETS,
            registry=r,
        )
        self.last_cycle = Gauge(
            f"{PREFIX}_last_cycle_timestamp_seconds",
            "Unix time the last cycle ended, whatever its outcome.",
            registry=r,
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "Unix time the last ok or degraded cycle ended.",
            registry=r,
        )
        self.llm_requests = Counter(f"{PREFIX}_llm_requests", "Model API requests.", registry=r)
        self.llm_decisions = Counter(
            f"{PREFIX}_llm_call_decisions",
            "Cycles by why the model was asked (LLM_CALL_POLICY), or quiet when it was not.",
            ["reason"],
            registry=r,
        )
        self.cache_hit_ratio = Gauge(
            f"{PREFIX}_llm_cache_hit_ratio",
            "Share of the last model cycle's prompt tokens read from the prompt cache.",
            registry=r,
        )
        self.llm_tokens = Counter(
            f"{PREFIX}_llm_tokens", "Model tokens by billing kind.", ["kind"], registry=r
        )
        for kind in TOKEN_KINDS:
            self.llm_tokens.labels(kind=kind)
        self.llm_cost = Counter(
            f"{PREFIX}_llm_cost_usd", "Estimated model spend in US dollars.", registry=r
        )
        self.context_ratio = Gauge(
            f"{PREFIX}_session_context_ratio",
            "Session history tokens over MAX_CONTEXT_TOKENS after the last cycle.",
            registry=r,
        )
        self.context_tokens = Gauge(
            f"{PREFIX}_session_context_tokens",
            "Session history tokens after the last cycle.",
            registry=r,
        )
        self.prunes = Counter(
            f"{PREFIX}_session_prunes", "Session prunes and compactions.", registry=r
        )
        self.session_events = Counter(
            f"{PREFIX}_session_events",
            "Session store events (quarantines, recoveries, lock refusals, ...).",
            ["event"],
            registry=r,
        )
        self.escalations = Counter(
            f"{PREFIX}_escalations", "Escalation decisions taken.", registry=r
        )
        self.notifications = Counter(
            f"{PREFIX}_notifications",
            "Notification deliveries by sink and outcome.",
            ["sink", "outcome"],
            registry=r,
        )
        self.notifications_pending = Gauge(
            f"{PREFIX}_notifications_pending",
            "Notifications waiting in the spool for a sink to take them (after the last cycle).",
            registry=r,
        )
        self.cycle_interval = Gauge(
            f"{PREFIX}_cycle_interval_seconds",
            "Configured time between cycles (MONITORING_INTERVAL_MINUTES), for alert rules.",
            registry=r,
        )
        self.llm_failures = Counter(
            f"{PREFIX}_llm_failures",
            "Model failures: fallback (a cycle answered from the deterministic report) and "
            "disabled (spend limit or auth: the provider is off until restart).",
            ["kind"],
            registry=r,
        )
        for kind in LLM_FAILURE_KINDS:
            self.llm_failures.labels(kind=kind)
        self.tool_calls = Counter(
            f"{PREFIX}_tool_calls",
            "Investigation tool calls by result (ok, error, refused).",
            ["result"],
            registry=r,
        )
        self.tool_loop_events = Counter(
            f"{PREFIX}_tool_loop_events",
            "Investigation loop events: limit stops (stopped_*), replies cut off mid tool call "
            "(truncated), unknown tools and malformed inputs, root causes found and reused.",
            ["event"],
            registry=r,
        )
        self.errors = Counter(
            f"{PREFIX}_errors", "Errors caught by a stage, by type.", ["stage", "type"], registry=r
        )
        self.guard_hits = Counter(
            f"{PREFIX}_redaction_guard_hits",
            "Secrets the guard before a sink caught: the collection boundary missed them.",
            ["sink"],
            registry=r,
        )

        self._start_known_children_at_zero()

    def _start_known_children_at_zero(self) -> None:
        # A counter child appears on first use, so increase()/rate() over a window that starts
        # with it misses the first event: create every child whose labels are known up front.
        for outcome in NOTIFICATION_OUTCOMES:
            self.notifications.labels(sink=NOTIFICATION_SINK, outcome=outcome)
        for event in SESSION_EVENTS:
            self.session_events.labels(event=event)
        for stage, base in STAGE_ERRORS.items():
            for error_type in _with_subclasses(base):
                self.errors.labels(stage=stage, type=error_type.__name__)

    # --- what the daemon calls ---------------------------------------------------------------

    def observe_cycle(self, report: CycleReport) -> None:
        """Record one finished cycle; per-cycle gauges are replaced, counters grow."""
        ended_at = report.started_at.timestamp() + report.duration_seconds
        with self._lock:
            self.cycles.labels(outcome=report.outcome.value).inc()
            self.cycle_duration.observe(max(report.duration_seconds, 0.0))
            self.last_cycle.set(ended_at)
            self._observe_usage(report)
            self.escalations.inc(len(report.escalations))
            self._observe_investigation(report)
            if report.pruned:
                self.prunes.inc()
            if report.analysis_source == "fallback":
                self.llm_failures.labels(kind="fallback").inc()
            if "pending" in report.notifications:
                self.notifications_pending.set(report.notifications["pending"])
            if report.outcome is Outcome.FAILED:
                # A failed cycle saw nothing: keep the last known findings and context rather
                # than report an empty, healthy-looking cluster.
                return
            self.last_success.set(ended_at)
            self.context_ratio.set(report.context_ratio)
            self.context_tokens.set(report.context_tokens)
            self._cycle_state.state = cycle_state_of(report)

    def _observe_investigation(self, report: CycleReport) -> None:
        stats = report.investigation
        if stats:
            errors = stats.tool_errors
            self.tool_calls.labels(result="ok").inc(stats.tool_calls - errors)
            self.tool_calls.labels(result="error").inc(errors)
            self.tool_calls.labels(result="refused").inc(stats.refused_calls)
            for event, count in (
                ("truncated", stats.truncated_replies),
                ("unknown_tool", stats.unknown_tools),
                ("bad_input", stats.bad_inputs),
            ):
                self.tool_loop_events.labels(event=event).inc(count)
            if stats.stopped:
                self.tool_loop_events.labels(event=f"stopped_{stats.stopped}").inc()
            self.tool_loop_events.labels(event="reused").inc(len(stats.reused_root_causes))
        self.tool_loop_events.labels(event="root_cause").inc(len(report.root_causes))

    def observe_notification(self, sink: str, outcome: str, count: int = 1) -> None:
        if count > 0:
            self.notifications.labels(sink=sink, outcome=outcome).inc(count)

    def observe_llm_disabled(self) -> None:
        self.llm_failures.labels(kind="disabled").inc()

    def observe_error(self, stage: str, error_type: str) -> None:
        self.errors.labels(stage=stage, type=error_type).inc()

    def observe_guard_hit(self, sink: str, count: int) -> None:
        self.guard_hits.labels(sink=sink).inc(count)

    def observe_session_event(self, name: str) -> None:
        self.session_events.labels(event=name).inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text format, as ``/metrics`` serves it."""
        return generate_latest(self.registry)

    def _observe_usage(self, report: CycleReport) -> None:
        usage = report.usage
        self.llm_requests.inc(max(usage.requests, 0))
        if report.llm_call != "none":
            self.llm_decisions.labels(reason=report.llm_call).inc()
        if report.cache_hit_rate is not None:
            self.cache_hit_ratio.set(report.cache_hit_rate)
        for kind, attribute in TOKEN_KINDS.items():
            value: Any = getattr(usage, attribute)
            if value > 0:
                self.llm_tokens.labels(kind=kind).inc(value)
        if usage.cost_usd > 0:
            self.llm_cost.inc(usage.cost_usd)


def _with_subclasses(base: type[MonitorError]) -> list[type[MonitorError]]:
    found = [base]
    for sub in base.__subclasses__():
        found.extend(_with_subclasses(sub))
    return found
