"""Metrics derived from cycle reports and events, read back through the registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.metrics import Metrics, cycle_state_of
from k8s_monitor.report import (
    CycleReport,
    FindingRecord,
    IncidentSummary,
    InvestigationRecord,
    ModelUsage,
    Outcome,
    RootCauseRecord,
)

STARTED = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def _finding(reason: str, severity: Severity, name: str) -> FindingRecord:
    subject = ObjectRef(kind="Deployment", namespace="shop", name=name)
    return Finding(subject=subject, reason=reason, severity=severity, message="m").to_json()


def _report(**overrides: object) -> CycleReport:
    values: dict[str, object] = {
        "cycle": 1,
        "cluster": "test",
        "mode": "stateless",
        "session_id": "s",
        "started_at": STARTED,
        "duration_seconds": 3.0,
    }
    values.update(overrides)
    return CycleReport(**values)  # type: ignore[arg-type]


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_cycle_counts_outcome_duration_and_success_time() -> None:
    metrics = Metrics()
    metrics.observe_cycle(_report(outcome=Outcome.OK, duration_seconds=3.0))
    metrics.observe_cycle(_report(outcome=Outcome.FAILED, duration_seconds=1.0))

    assert _value(metrics, "k8s_monitor_cycles_total", outcome="ok") == 1
    assert _value(metrics, "k8s_monitor_cycles_total", outcome="failed") == 1
    assert _value(metrics, "k8s_monitor_cycles_total", outcome="degraded") == 0
    assert _value(metrics, "k8s_monitor_cycle_duration_seconds_count") == 2
    assert _value(metrics, "k8s_monitor_cycle_duration_seconds_sum") == pytest.approx(4.0)
    # The failed cycle moves the last-cycle time but not the last-success time.
    assert _value(metrics, "k8s_monitor_last_success_timestamp_seconds") == STARTED.timestamp() + 3
    assert _value(metrics, "k8s_monitor_last_cycle_timestamp_seconds") == STARTED.timestamp() + 1


def test_findings_gauge_is_replaced_each_cycle() -> None:
    metrics = Metrics()
    first = [
        _finding("CrashLoopBackOff", Severity.CRITICAL, "a"),
        _finding("CrashLoopBackOff", Severity.CRITICAL, "b"),
        _finding("ImagePullBackOff", Severity.WARNING, "c"),
    ]
    metrics.observe_cycle(_report(findings=first))
    crash = {"severity": "critical", "reason": "CrashLoopBackOff"}
    pull = {"severity": "warning", "reason": "ImagePullBackOff"}
    assert _value(metrics, "k8s_monitor_findings", **crash) == 2
    assert _value(metrics, "k8s_monitor_findings", **pull) == 1

    metrics.observe_cycle(_report(findings=[first[2]]))
    assert _value(metrics, "k8s_monitor_findings", **crash) is None
    assert _value(metrics, "k8s_monitor_findings", **pull) == 1


def test_failed_cycle_keeps_last_known_findings_and_context() -> None:
    metrics = Metrics()
    finding = _finding("NodeNotReady", Severity.CRITICAL, "n")
    metrics.observe_cycle(_report(findings=[finding], context_ratio=0.4))
    metrics.observe_cycle(_report(outcome=Outcome.FAILED, context_ratio=0.0))
    labels = {"severity": "critical", "reason": "NodeNotReady"}
    assert _value(metrics, "k8s_monitor_findings", **labels) == 1
    assert _value(metrics, "k8s_monitor_session_context_ratio") == pytest.approx(0.4)


def _incident(fingerprint: str, severity: str) -> IncidentSummary:
    return IncidentSummary(
        fingerprint=fingerprint, reason="R", subject="Pod/a/b", severity=severity
    )


def test_open_incidents_by_severity() -> None:
    report = _report(
        incident_changes={
            "new": [_incident("a", "critical")],
            "recurring": [_incident("b", "warning"), _incident("c", "critical")],
            "flapping": [_incident("d", "")],
            "resolved": [_incident("e", "critical"), _incident("f", "info")],
        },
    )
    metrics = Metrics()
    metrics.observe_cycle(report)
    assert _value(metrics, "k8s_monitor_incidents_open", severity="critical") == 2
    assert _value(metrics, "k8s_monitor_incidents_open", severity="warning") == 1
    assert _value(metrics, "k8s_monitor_incidents_open", severity="unknown") == 1
    assert _value(metrics, "k8s_monitor_incidents_open", severity="info") is None
    assert sum(cycle_state_of(report).incidents_open.values()) == 4


def test_usage_tokens_cost_and_prunes_accumulate() -> None:
    metrics = Metrics()
    usage = ModelUsage(
        requests=1, input_tokens=100, cache_read_tokens=900, output_tokens=50, cost_usd=0.25
    )
    metrics.observe_cycle(_report(usage=usage, pruned=True, context_ratio=0.81))
    metrics.observe_cycle(_report(usage=usage, context_ratio=0.5, context_tokens=60_000))

    assert _value(metrics, "k8s_monitor_llm_tokens_total", kind="input") == 200
    assert _value(metrics, "k8s_monitor_llm_tokens_total", kind="cache_read") == 1800
    assert _value(metrics, "k8s_monitor_llm_tokens_total", kind="output") == 100
    assert _value(metrics, "k8s_monitor_llm_tokens_total", kind="cache_write_1h") == 0
    assert _value(metrics, "k8s_monitor_llm_requests_total") == 2
    assert _value(metrics, "k8s_monitor_llm_cost_usd_total") == pytest.approx(0.5)
    assert _value(metrics, "k8s_monitor_session_prunes_total") == 1
    assert _value(metrics, "k8s_monitor_session_context_ratio") == pytest.approx(0.5)
    assert _value(metrics, "k8s_monitor_session_context_tokens") == 60_000


def test_health_state_is_one_hot() -> None:
    metrics = Metrics()
    metrics.observe_cycle(_report(overall_health="critical"))
    assert _value(metrics, "k8s_monitor_cluster_health", state="critical") == 1
    assert _value(metrics, "k8s_monitor_cluster_health", state="healthy") == 0
    metrics.observe_cycle(_report(overall_health="nonsense"))
    assert _value(metrics, "k8s_monitor_cluster_health", state="unknown") == 1
    assert _value(metrics, "k8s_monitor_cluster_health", state="critical") == 0


def test_events_notifications_and_errors() -> None:
    metrics = Metrics()
    metrics.observe_notification("slack", "sent")
    metrics.observe_notification("slack", "sent")
    metrics.observe_notification("webhook", "spooled")
    metrics.observe_error("collect", "ClusterUnreachableError")
    metrics.observe_session_event("quarantined")

    assert _value(metrics, "k8s_monitor_notifications_total", sink="slack", outcome="sent") == 2
    assert (
        _value(metrics, "k8s_monitor_notifications_total", sink="webhook", outcome="spooled") == 1
    )
    errors = {"stage": "collect", "type": "ClusterUnreachableError"}
    assert _value(metrics, "k8s_monitor_errors_total", **errors) == 1
    assert _value(metrics, "k8s_monitor_session_events_total", event="quarantined") == 1


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe_error("notify", "NotificationError")
    labels = {"stage": "notify", "type": "NotificationError"}
    assert _value(first, "k8s_monitor_errors_total", **labels) == 1
    assert _value(second, "k8s_monitor_errors_total", **labels) is None


def test_render_is_parseable_prometheus_text_with_the_issue_names() -> None:
    metrics = Metrics()
    metrics.observe_cycle(_report(findings=[_finding("X", Severity.INFO, "a")]))
    metrics.observe_notification("log", "sent")
    names = {family.name for family in text_string_to_metric_families(metrics.render().decode())}
    expected = {
        "k8s_monitor_cycles",
        "k8s_monitor_cycle_duration_seconds",
        "k8s_monitor_findings",
        "k8s_monitor_incidents_open",
        "k8s_monitor_llm_tokens",
        "k8s_monitor_llm_cost_usd",
        "k8s_monitor_session_context_ratio",
        "k8s_monitor_session_prunes",
        "k8s_monitor_notifications",
        "k8s_monitor_last_success_timestamp_seconds",
        "k8s_monitor_errors",
        "k8s_monitor_build_info",
    }
    assert expected <= names


def test_counters_with_known_labels_start_at_zero_so_rates_see_the_first_event() -> None:
    from k8s_monitor.errors import SessionLockedError
    from k8s_monitor.notify.notifier import DispatchResult
    from k8s_monitor.sessions.manager import EVENT_QUARANTINED, SESSION_EVENTS

    metrics = Metrics()
    for outcome in ("sent", "spooled", "dropped", "lost"):
        assert _value(metrics, "k8s_monitor_notifications_total", sink="all", outcome=outcome) == 0
    # Every outcome the notifier reports, bar the "pending" level, has its zero.
    counted = set(DispatchResult.__struct_fields__) - {"pending"}
    families = text_string_to_metric_families(metrics.render().decode())
    notified = next(f for f in families if f.name == "k8s_monitor_notifications")
    assert {s.labels["outcome"] for s in notified.samples} == counted
    assert EVENT_QUARANTINED in SESSION_EVENTS
    for event in SESSION_EVENTS:
        assert _value(metrics, "k8s_monitor_session_events_total", event=event) == 0
    for stage, error in (("collect", "ClusterUnreachableError"), ("report", "StorageError")):
        assert _value(metrics, "k8s_monitor_errors_total", stage=stage, type=error) == 0
    assert (
        _value(metrics, "k8s_monitor_errors_total", stage="converse", type="SessionLockedError")
        == 0
    )
    for outcome in Outcome:
        assert _value(metrics, "k8s_monitor_cycles_total", outcome=outcome.value) == 0
    # The zeros are real children: counting one moves it from 0 to 1.
    metrics.observe_error("converse", SessionLockedError.__name__)
    assert (
        _value(metrics, "k8s_monitor_errors_total", stage="converse", type="SessionLockedError")
        == 1
    )


def test_no_created_series_are_exported() -> None:
    metrics = Metrics()
    metrics.observe_notification("all", "sent")
    text = metrics.render().decode()
    assert "_created" not in text
    assert "k8s_monitor_notifications_total" in text


def test_investigation_tool_calls_and_loop_events_are_counted() -> None:
    metrics = Metrics()
    stats = InvestigationRecord(
        tool_calls=7,
        tool_errors=2,
        refused_calls=3,
        truncated_replies=1,
        unknown_tools=1,
        bad_inputs=1,
        stopped="tool_calls",
        reused_root_causes=["a", "b"],
    )
    causes = {"c": RootCauseRecord(summary="x")}
    metrics.observe_cycle(_report(investigation=stats, root_causes=causes))
    calls = "k8s_monitor_tool_calls_total"
    events = "k8s_monitor_tool_loop_events_total"
    assert _value(metrics, calls, result="ok") == 5
    assert _value(metrics, calls, result="error") == 2
    assert _value(metrics, calls, result="refused") == 3
    assert _value(metrics, events, event="truncated") == 1
    assert _value(metrics, events, event="stopped_tool_calls") == 1
    assert _value(metrics, events, event="reused") == 2
    assert _value(metrics, events, event="root_cause") == 1
