"""Incidents as Alertmanager alerts: names, labels, sanitising, times, and what the notifier
remembers so a resolution or a level change ends the right alert, across restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from k8s_monitor.analysis.escalation import (
    MONITOR_BLIND,
    Escalation,
    blind_monitor_finding,
    escalate,
)
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import parse_catalog
from k8s_monitor.notify import NotificationContext, Notifier
from k8s_monitor.notify.alerts import (
    MAX_LABEL_CHARS,
    AlertOptions,
    alertname,
    firing,
    labels_of,
    sanitise,
    watchdog,
)
from k8s_monitor.notify.dedup import DedupStore
from k8s_monitor.notify.messages import AlertSpec, Kind, Notification
from tests import builders
from tests.unit.analysis.helpers import NOW

CATALOG = parse_catalog(
    """
services:
  - {name: pay, namespaces: [pay], priority: P0, runbook_url: "https://runbooks.example/pay"}
"""
)
CTX = NotificationContext(cluster="prod", cycle=1, summary="the model's analysis")
OPTIONS = AlertOptions(cluster="prod", ttl=timedelta(minutes=45), generator_url="https://g.example")


def finding(name: str = "api", severity: Severity = Severity.CRITICAL, ns: str = "pay") -> Finding:
    evidence = {"restart_count": 9}
    return builders.finding(
        name, severity, namespace=ns, message=f"{name} restarts", evidence=evidence
    )


@pytest.mark.parametrize(
    ("cause", "name"),
    [
        ("CrashLoopBackOff", "K8sMonitorCrashLoopBackOff"),
        ("image pull back-off", "K8sMonitorImagePullBackOff"),
        (MONITOR_BLIND, "K8sMonitorBlind"),
        ("MonitoringGap", "K8sMonitorMonitoringGap"),
        ("", "K8sMonitorIncident"),
        ("OOMKilled", "K8sMonitorOOMKilled"),
    ],
)
def test_alertname_is_camel_case_with_a_stable_prefix(cause: str, name: str) -> None:
    assert alertname(cause) == name


def test_sanitise_removes_control_characters_and_clips_keeping_values_distinct() -> None:
    assert sanitise("web\x00-\x1b[31m\u202e1\n") == "web - [31m 1"
    first, second = sanitise("x" * 600 + "a"), sanitise("x" * 600 + "b")
    assert len(first) == len(second) == MAX_LABEL_CHARS
    assert first != second
    assert sanitise("line one\nline two", 100, multiline=True) == "line one\nline two"


def _escalations(*findings: Finding) -> tuple[Ledger, list[Escalation]]:
    ledger, update = update_ledger(Ledger(), list(findings), now=NOW)
    return ledger, escalate(update, catalog=CATALOG, now=NOW)


def test_labels_annotations_and_times_of_a_firing_alert() -> None:
    _, [escalation] = _escalations(finding())
    alert = firing(escalation, CTX, NOW + timedelta(minutes=5), OPTIONS)
    assert alert.labels["alertname"] == "K8sMonitorCrashLoopBackOff"
    assert alert.labels["severity"] == "critical"
    assert alert.labels["cluster"] == "prod"
    assert alert.annotations["description"] == "the model's analysis"
    assert alert.annotations["runbook_url"] == "https://runbooks.example/pay"
    assert alert.starts_at == NOW  # when the incident opened, not when it was sent
    assert alert.ends_at == NOW + timedelta(minutes=50)
    wire = msgspec.json.decode(msgspec.json.encode(alert))
    assert set(wire) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}


def test_cluster_scoped_subjects_have_no_empty_namespace_label() -> None:
    blind = blind_monitor_finding("prod", 3, "connection refused")
    _, [escalation] = _escalations(blind)
    labels = labels_of(escalation, "prod")
    assert "namespace" not in labels
    assert labels["alertname"] == "K8sMonitorBlind" and labels["severity"] == "critical"


def test_severity_follows_the_escalation_level() -> None:
    _, escalations = _escalations(
        finding("a", Severity.CRITICAL), finding("b", Severity.WARNING, ns="shop")
    )
    assert sorted(labels_of(e, "prod")["severity"] for e in escalations) == [
        "critical",
        "warning",
    ]


def test_watchdog_is_always_firing_until_three_intervals_pass() -> None:
    alert = watchdog(NOW, OPTIONS)
    assert alert.labels["alertname"] == "K8sMonitorWatchdog"
    assert alert.ends_at - alert.starts_at == timedelta(minutes=45)


class RecordingAlertSink:
    name = "alertmanager-1"
    kinds = frozenset({Kind.ALERTS})

    def __init__(self) -> None:
        self.sent: list[list[AlertSpec]] = []

    def send(self, message: Notification) -> None:
        self.sent.append(message.alerts)


def _notifier(tmp_path: Path, sink: RecordingAlertSink) -> Notifier:
    return Notifier([sink], tmp_path / "spool", alert_options=OPTIONS)


def test_a_restarted_notifier_still_resolves_what_it_alerted(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    ledger, update = update_ledger(Ledger(), [finding()], now=NOW)
    escalations = escalate(update, catalog=CATALOG, now=NOW)
    _notifier(tmp_path, sink).dispatch(escalations, resolved=[], context=CTX, now=NOW)
    later = NOW + timedelta(minutes=15)
    _, update = update_ledger(ledger, [], now=later)
    assert update.resolved
    # a new process: what was alerted comes from the state file, not memory
    _notifier(tmp_path, sink).dispatch([], resolved=update.resolved, context=CTX, now=later)
    [resolved] = sink.sent[-1]
    assert resolved.labels == sink.sent[0][0].labels
    assert resolved.ends_at == later and resolved.starts_at == NOW


def test_a_level_change_ends_the_old_alert_and_opens_the_new(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    notifier = _notifier(tmp_path, sink)
    warning, critical = finding("web", Severity.WARNING, "shop"), finding("web", ns="shop")
    ledger, update = update_ledger(Ledger(), [warning], now=NOW)
    notifier.dispatch(escalate(update, catalog=CATALOG, now=NOW), resolved=[], context=CTX, now=NOW)
    later = NOW + timedelta(minutes=15)
    _, update = update_ledger(ledger, [critical], now=later)
    notifier.dispatch(
        escalate(update, catalog=CATALOG, now=later), resolved=[], context=CTX, now=later
    )
    old, new = sink.sent[-1]
    assert (old.labels["severity"], new.labels["severity"]) == ("warning", "critical")
    assert old.ends_at == later and new.ends_at == later + OPTIONS.ttl
    assert old.labels["fingerprint"] == new.labels["fingerprint"]
    assert old.labels != new.labels


def test_resolved_incidents_never_alerted_send_nothing(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    ledger, update = update_ledger(Ledger(), [finding()], now=NOW)
    _, update = update_ledger(ledger, [], now=NOW + timedelta(minutes=15))
    result = _notifier(tmp_path, sink).dispatch([], resolved=update.resolved, context=CTX, now=NOW)
    assert sink.sent == [] and result.alerts == 0


def test_state_files_written_before_alertmanager_support_still_load(tmp_path: Path) -> None:
    path = tmp_path / "notify-state.json"
    path.write_text('{"notified": {"abc": {"sev": 2, "at": "2024-05-14T10:00:00Z"}}}')
    state = DedupStore(path).load()
    assert "abc" in state.notified and state.alerted == {}


def test_stale_alert_memory_is_pruned_after_a_day(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    _, update = update_ledger(Ledger(), [finding()], now=NOW)
    notifier = _notifier(tmp_path, sink)
    notifier.dispatch(escalate(update, catalog=CATALOG, now=NOW), resolved=[], context=CTX, now=NOW)
    assert DedupStore(tmp_path / "spool" / "notify-state.json").load().alerted
    notifier.dispatch([], resolved=[], context=CTX, now=NOW + timedelta(days=1, minutes=1))
    assert DedupStore(tmp_path / "spool" / "notify-state.json").load().alerted == {}


def test_only_alertmanager_sinks_get_alerts_and_no_empty_update_is_sent(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    result = _notifier(tmp_path, sink).dispatch([], resolved=[], context=CTX, now=NOW)
    assert sink.sent == [] and result.sent == 0


def test_the_early_dispatch_posts_only_alerts_alertmanager_lacks(tmp_path: Path) -> None:
    sink = RecordingAlertSink()
    notifier = _notifier(tmp_path, sink)
    ledger, update = update_ledger(Ledger(), [finding("api")], now=NOW)
    notifier.dispatch(escalate(update, catalog=CATALOG, now=NOW), resolved=[], context=CTX, now=NOW)
    later = NOW + timedelta(minutes=15)
    _, update = update_ledger(ledger, [finding("api"), finding("db")], now=later)
    escalations = escalate(update, catalog=CATALOG, now=later)
    early = notifier.dispatch(escalations, resolved=[], context=CTX, now=later, early=True)
    assert early.alerts == 1 and [a.labels["object"] for a in sink.sent[-1]] == ["db"]
    full = notifier.dispatch(escalations, resolved=[], context=CTX, now=later)
    assert full.alerts == 2  # the full dispatch of the cycle refreshes every open incident
