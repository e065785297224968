"""The whole deterministic path across the simulator's incident-day scenario.

Each step's objects go through analyze -> update_ledger -> escalate -> dispatch, the way the
cycle runs them, and the ledger transitions and notifications are checked step by step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from k8s_monitor import sim
from k8s_monitor.analysis.escalation import Sev, escalate
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import LedgerStore, update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import snapshot_from_objects
from k8s_monitor.notify import NotificationContext, Notifier, RetryPolicy
from k8s_monitor.notify.sinks import webhook_sink
from tests.fakes.webhook_receiver import WebhookReceiver

KINDS = {
    "namespaces": "Namespace",
    "nodes": "Node",
    "pods": "Pod",
    "events": "Event",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "persistentvolumes": "PersistentVolume",
    "resourcequotas": "ResourceQuota",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "poddisruptionbudgets": "PodDisruptionBudget",
    "services": "Service",
    "endpointslices": "EndpointSlice",
    "storageclasses": "StorageClass",
}
START = datetime(2024, 10, 1, 12, tzinfo=UTC)


def findings_at(step: int) -> tuple[datetime, list[Finding]]:
    scenario = sim.load_scenario("incident-day")
    now = START + timedelta(seconds=step * scenario.step_seconds)
    view = scenario.view(step, now)
    objects: list[dict[str, Any]] = []
    for resource, kind in KINDS.items():
        collection = view.collection(resource)
        if collection is not None:
            # List items carry no "kind"; a kubectl dump does. Add it as kubectl would.
            objects.extend({**o, "kind": kind} for o in collection.items(0, len(collection)))
    snapshot = snapshot_from_objects(objects, cluster="sim", collected_at=view.now)
    return view.now, analyze(snapshot, now=view.now, catalog=ServiceCatalog())


def keyed(update: LedgerUpdate) -> dict[str, set[tuple[str, str]]]:
    def pairs(incidents: list[Any]) -> set[tuple[str, str]]:
        return {(i.finding.reason, str(i.finding.subject)) for i in incidents}

    return {
        "new": pairs(update.new),
        "recurring": pairs(update.recurring),
        "resolved": pairs(update.resolved),
    }


CRASH = ("CrashLoopBackOff", "Deployment/shop/checkout")
PRESSURE_REASON = "NodePressure"
PULL = ("ImagePullBackOff", "Deployment/payments/payments-api")


def test_incident_day_end_to_end(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "ledger.json")
    with WebhookReceiver() as receiver:
        notifier = Notifier(
            [webhook_sink(receiver.url, timeout=5)],
            tmp_path / "spool",
            retry=RetryPolicy(attempts=2, base_delay=0.0),
            sleep=lambda _: None,
        )
        updates: list[LedgerUpdate] = []
        for step in range(5):
            now, findings = findings_at(step)
            if step == 0:
                assert findings == []  # the healthy baseline is silent
            ledger, update = update_ledger(store.load(), findings, now=now)
            store.save(ledger)
            updates.append(update)
            escalations = escalate(update, catalog=ServiceCatalog(), now=now)
            notifier.dispatch(
                escalations,
                resolved=update.resolved,
                now=now,
                context=NotificationContext(cluster="sim", cycle=ledger.cycle),
            )
            if step == 1:
                assert {e.finding.reason: e.sev for e in escalations}[CRASH[0]] is Sev.SEV2

        assert CRASH in keyed(updates[1])["new"]
        assert CRASH in keyed(updates[2])["recurring"]
        assert any(r == PRESSURE_REASON for r, _ in keyed(updates[2])["new"])
        assert PULL in keyed(updates[3])["new"]
        resolved = keyed(updates[4])["resolved"]
        assert {CRASH, PULL} <= resolved
        assert any(r == PRESSURE_REASON for r, _ in resolved)
        assert updates[4].open == []
        assert store.load().cycle == 5

        bodies = [r.body for r in receiver.received]
        alerted = [i["reason"] for b in bodies if b["kind"] == "alert" for i in b["items"]]
        assert alerted.count("CrashLoopBackOff") == 1  # paged once, not every cycle
        assert "ImagePullBackOff" in alerted
        assert bodies[-1]["kind"] == "resolved"
        assert len(set(receiver.keys())) == len(bodies)


def test_no_critical_finding_in_the_healthy_baseline() -> None:
    _, findings = findings_at(0)
    assert [f for f in findings if f.severity is Severity.CRITICAL] == []
    assert Ledger().cycle == 0
