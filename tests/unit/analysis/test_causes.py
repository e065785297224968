"""The cause graph: symptoms point at their cause, incidents group under the root cause."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from k8s_monitor.analysis.causes import group_by_root_cause, link_causes
from k8s_monitor.analysis.escalation import escalate
from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import LedgerStore, update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog, parse_catalog
from k8s_monitor.notify import NotificationContext, Notifier, RetryPolicy
from k8s_monitor.notify.sinks import webhook_sink
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.unit.analysis.causes_world import (
    config_error,
    deployment,
    replicaset,
    workload_pod,
)
from tests.unit.analysis.helpers import NOW, node, snapshot, terminated, ts, waiting


def linked(*objects: dict[str, Any], catalog: ServiceCatalog | None = None) -> list[Finding]:
    snap = snapshot(*objects)
    return link_causes(analyze(snap, now=NOW, catalog=catalog), snap, now=NOW)


def node_outage(deployments: int = 10, pods_each: int = 4) -> list[dict[str, Any]]:
    objects = [node("node-bad", ready="Unknown", since="09:00"), node("node-ok")]
    for d in range(deployments):
        name = f"svc{d}"
        objects += [deployment(name, replicas=pods_each), replicaset(name, "abc", created="06:00")]
        objects += [workload_pod(name, i, node_name="node-bad") for i in range(pods_each)]
    return objects


# --- the NotReady node ------------------------------------------------------------------------


def test_pods_and_workloads_on_a_notready_node_point_at_the_node() -> None:
    findings = linked(*node_outage())
    assert len(findings) == 21  # the node, and per Deployment: unavailable + pods not ready
    symptoms = [f for f in findings if f.subject.kind != "Node"]
    node_cause = CauseRef(kind="Node", namespace="", name="node-bad", reason="NodeNotReady")
    assert {f.caused_by for f in symptoms} == {node_cause}
    [group] = group_by_root_cause(findings)
    assert group.root.ref == ObjectRef(kind="Node", namespace="", name="node-bad")
    assert group.root_finding is not None and len(group.symptoms) == 20


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_a_notready_node_with_40_failing_pods_is_one_notification(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    notifier = Notifier(
        [webhook_sink(receiver.url, timeout=5)],
        tmp_path / "spool",
        cooldown=timedelta(minutes=60),
        retry=RetryPolicy(attempts=1, base_delay=0.0),
        sleep=lambda _: None,
    )
    findings = linked(*node_outage())
    _, update = update_ledger(Ledger(), findings, now=NOW)
    escalations = escalate(update, catalog=ServiceCatalog(), now=NOW)
    notifier.dispatch(
        escalations,
        resolved=[],
        context=NotificationContext(cluster="prod", cycle=1),
        now=NOW,
    )
    assert len(receiver.received) == 1
    body = receiver.received[0].body
    [item] = body["items"]
    assert item["cause"]["kind"] == "Node" and item["cause"]["name"] == "node-bad"
    assert "node-bad" in body["title"]
    assert item["symptom_count"] == 20 and len(item["symptoms"]) == 12


def test_a_p0_symptom_on_the_node_sets_the_escalation_floor() -> None:
    catalog = parse_catalog("services:\n  - {name: pay, namespaces: [shop], priority: P0}\n")
    findings = linked(*node_outage(deployments=2), catalog=catalog)
    _, update = update_ledger(Ledger(), findings, now=NOW)
    [decision] = escalate(update, catalog=catalog, now=NOW)
    assert decision.sev.label == "SEV-1"
    assert any("symptom" in why for why in decision.why)


def test_fingerprint_is_stable_while_symptoms_come_and_go(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "ledger.json")
    first, update = update_ledger(Ledger(), linked(*node_outage(deployments=3)), now=NOW)
    [opened] = update.new
    store.save(first)
    later = NOW + timedelta(minutes=5)
    _, update = update_ledger(store.load(), linked(*node_outage(deployments=5)), now=later)
    assert [i.fingerprint for i in update.recurring] == [opened.fingerprint]
    assert update.new == [] and update.resolved == []
    [incident] = update.recurring
    assert len(incident.symptoms) == 10 and incident.trend.value == "worsening"
    assert incident.cause_root is not None and incident.cause_root.name == "node-bad"


def test_a_bad_image_on_a_bad_node_is_not_blamed_on_the_node() -> None:
    # The node is lost, but these pods could not pull their image on any node: the node is
    # no explanation for them, and they must not be folded into its incident.
    pulling = waiting("ImagePullBackOff", message="Back-off pulling image shop/web:bad")
    objects = [node("node-bad", ready="Unknown", since="09:00")]
    objects += [deployment("web", replicas=2), replicaset("web", "abc", created="06:00")]
    objects += [
        workload_pod("web", i, node_name="node-bad", containers=[pulling]) for i in range(2)
    ]
    findings = linked(*objects)
    pulls = [f for f in findings if f.reason == "ImagePullBackOff"]
    assert pulls, [f.reason for f in findings]
    assert all(f.caused_by is None or f.caused_by.kind != "Node" for f in pulls)
    web = [f for f in findings if f.subject.name == "web"]
    assert all(f.caused_by is None or f.caused_by.kind != "Node" for f in web)
    node_groups = [g for g in group_by_root_cause(findings) if g.root.kind == "Node"]
    assert all(s.subject.name != "web" for g in node_groups for s in g.symptoms)


def test_a_node_that_is_fine_is_no_cause() -> None:
    objects = [node("node-ok"), deployment("web", replicas=2)]
    objects += [replicaset("web", "abc", created="06:00")]
    objects += [workload_pod("web", i, node_name="node-ok") for i in range(2)]
    findings = linked(*objects)
    assert findings and all(f.caused_by is None or f.caused_by.kind != "Node" for f in findings)
    [group] = group_by_root_cause(findings)
    assert (group.root.kind, group.root.name, group.root.reason) == (
        "Deployment",
        "web",
        "PodNotReady",
    )


# --- config errors, storage, FailedCreate ----------------------------------------------------


def test_config_error_points_at_the_missing_configmap_key() -> None:
    message = "couldn't find key DATABASE_URL in ConfigMap shop/app-config"
    objects = [node("node-1"), deployment("api", replicas=2)]
    objects += [replicaset("api", "abc", created="06:00")]
    objects += [workload_pod("api", i, containers=config_error(message)) for i in range(2)]
    findings = linked(*objects)
    config = next(f for f in findings if f.reason == "CreateContainerConfigError")
    assert config.caused_by == CauseRef(
        kind="ConfigMap", namespace="shop", name="app-config", reason="KeyNotFound"
    )
    unavailable = next(f for f in findings if f.reason == "DeploymentUnavailable")
    groups = group_by_root_cause(findings)
    [group] = groups
    assert group.root.kind == "ConfigMap" and group.root_finding is None
    assert "DATABASE_URL" in group.root.summary
    assert {f.fingerprint for f in group.symptoms} == {config.fingerprint, unavailable.fingerprint}


def test_missing_secret_is_inferred_from_the_waiting_message_only() -> None:
    objects = [node("node-1"), deployment("api", replicas=1)]
    objects += [replicaset("api", "abc", created="06:00")]
    objects += [workload_pod("api", 0, containers=config_error('secret "db-creds" not found'))]
    config = next(f for f in linked(*objects) if f.reason == "CreateContainerConfigError")
    assert config.caused_by is not None
    assert (config.caused_by.kind, config.caused_by.name) == ("Secret", "db-creds")


def _pvc(name: str, phase: str, storage_class: str = "gp3") -> dict[str, Any]:
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": ts("08:00")},
        "spec": {"storageClassName": storage_class},
        "status": {"phase": phase},
    }


def _event(kind: str, name: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Event",
        "metadata": {"name": f"{name}.1", "namespace": "shop"},
        "involvedObject": {"kind": kind, "namespace": "shop", "name": name},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 3,
        "lastTimestamp": ts("09:55"),
    }


def test_pending_pod_to_pending_claim_to_missing_storage_class() -> None:
    pending = workload_pod(
        "db",
        0,
        node_name="",
        phase="Pending",
        containers=[],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}],
    )
    pending["status"]["conditions"].append(
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
        }
    )
    objects = [
        node("node-1"),
        pending,
        _pvc("data-db-0", "Pending", "fast"),
        _event(
            "PersistentVolumeClaim",
            "data-db-0",
            "ProvisioningFailed",
            'storageclass.storage.k8s.io "fast" not found',
        ),
    ]
    findings = linked(*objects)
    claim = next(f for f in findings if f.reason == "PVCPending")
    assert claim.caused_by == CauseRef(
        kind="StorageClass", namespace="", name="fast", reason="NotFound"
    )
    unschedulable = next(f for f in findings if f.reason == "Unschedulable")
    assert unschedulable.caused_by is not None
    assert unschedulable.caused_by.ref == claim.subject
    [group] = [g for g in group_by_root_cause(findings) if g.symptoms]
    assert (group.root.kind, group.root.name) == ("StorageClass", "fast")
    assert {f.reason for f in group.symptoms} >= {"PVCPending", "Unschedulable"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'pods "api-abc-x" is forbidden: exceeded quota: compute-quota, requested: cpu=1',
            ("ResourceQuota", "shop", "compute-quota"),
        ),
        (
            'admission webhook "validate.kyverno.svc" denied the request: image not signed',
            ("AdmissionWebhook", "", "validate.kyverno.svc"),
        ),
        (
            'pods "api-abc-x" is forbidden: no PriorityClass with name critical-apps was found',
            ("PriorityClass", "", "critical-apps"),
        ),
        (
            'pods "api-abc-x" is forbidden: error looking up service account shop/api: '
            'serviceaccount "api" not found',
            ("ServiceAccount", "shop", "api"),
        ),
    ],
)
def test_failed_create_points_at_the_object_named_in_the_event(
    message: str, expected: tuple[str, str, str]
) -> None:
    objects = [
        node("node-1"),
        deployment("api", replicas=2),
        replicaset("api", "abc", created="06:00"),
        _event("ReplicaSet", "api-abc", "FailedCreate", f"Error creating: {message}"),
    ]
    [finding] = [f for f in linked(*objects) if f.reason == "DeploymentUnavailable"]
    assert finding.caused_by is not None
    cause = finding.caused_by
    assert (cause.kind, cause.namespace, cause.name) == expected


def test_an_event_naming_an_object_that_does_not_exist_still_gives_the_finding() -> None:
    objects = [
        node("node-1"),
        deployment("api", replicas=2),
        _event("ReplicaSet", "ghost-123", "FailedCreate", "exceeded quota: q"),
    ]
    [finding] = [f for f in linked(*objects) if f.reason == "DeploymentUnavailable"]
    assert finding.caused_by is None


# --- rollouts ---------------------------------------------------------------------------------


def _crashing() -> list[dict[str, Any]]:
    last = terminated(1, "Error", finished="09:58")
    return [waiting("CrashLoopBackOff", restarts=7, last=last)]


def test_pods_of_the_new_revision_failing_alike_point_at_the_rollout() -> None:
    objects = [
        node("node-1"),
        deployment("web", replicas=3, available=2),
        replicaset("web", "old", revision=4, created="06:00"),
        replicaset("web", "new", revision=5, created="09:40"),
    ]
    objects += [workload_pod("web", i, template_hash="old", ready=True) for i in range(2)]
    objects += [workload_pod("web", i, template_hash="new", containers=_crashing()) for i in (0,)]
    crash = next(f for f in linked(*objects) if f.reason == "CrashLoopBackOff")
    assert crash.caused_by == CauseRef(
        kind="ReplicaSet", namespace="shop", name="web-new", reason="Rollout"
    )
    assert "revision 5" in crash.evidence["cause_detail"]


def test_an_old_rollout_or_failures_across_revisions_are_no_rollout_cause() -> None:
    old_rollout = [
        node("node-1"),
        deployment("web", replicas=1),
        replicaset("web", "old", revision=4, created="01:00"),
        replicaset("web", "new", revision=5, created="02:00"),
        workload_pod("web", 0, template_hash="new", containers=_crashing()),
    ]
    crash = next(f for f in linked(*old_rollout) if f.reason == "CrashLoopBackOff")
    assert crash.caused_by is None
    mixed = [
        node("node-1"),
        deployment("web", replicas=2),
        replicaset("web", "old", revision=4, created="06:00"),
        replicaset("web", "new", revision=5, created="09:40"),
        workload_pod("web", 0, template_hash="new", containers=_crashing()),
        workload_pod("web", 1, template_hash="old", containers=_crashing()),
    ]
    crash = next(f for f in linked(*mixed) if f.reason == "CrashLoopBackOff")
    assert crash.caused_by is None


def test_a_workload_short_of_replicas_points_at_its_pods_failure() -> None:
    objects = [node("node-1"), deployment("web", replicas=1)]
    objects += [replicaset("web", "abc", created="06:00")]
    objects += [workload_pod("web", 0, containers=_crashing())]
    findings = linked(*objects)
    unavailable = next(f for f in findings if f.reason == "DeploymentUnavailable")
    assert unavailable.caused_by is not None
    assert unavailable.caused_by.reason == "CrashLoopBackOff"
    [group] = group_by_root_cause(findings)
    assert group.root.reason == "CrashLoopBackOff" and group.root_finding is not None


def test_a_rule_set_cause_is_kept_and_a_cause_loop_ends() -> None:
    a = ObjectRef(kind="Deployment", namespace="shop", name="a")
    b = ObjectRef(kind="Deployment", namespace="shop", name="b")
    first = Finding(
        subject=a,
        reason="X",
        severity=Severity.WARNING,
        message="a",
        caused_by=CauseRef(kind="Deployment", namespace="shop", name="b", reason="Y"),
    )
    second = Finding(
        subject=b,
        reason="Y",
        severity=Severity.CRITICAL,
        message="b",
        caused_by=CauseRef(kind="Deployment", namespace="shop", name="a", reason="X"),
    )
    result = link_causes([first, second], snapshot(), now=NOW)
    assert [f.caused_by for f in result] == [first.caused_by, second.caused_by]
    groups = group_by_root_cause(result)
    assert sum(len(g.findings) for g in groups) >= 2  # both kept, no endless walk


def test_a_cause_named_in_other_words_continues_through_the_objects_findings() -> None:
    findings = linked(*node_outage(deployments=2))
    service = ObjectRef(kind="Service", namespace="shop", name="svc0")
    # A rule blames the workload in its own words: the chain goes on through its findings.
    blamed = Finding(
        subject=service,
        reason="ServiceNoReadyEndpoints",
        severity=Severity.CRITICAL,
        message="no ready endpoint",
        caused_by=CauseRef(kind="Deployment", namespace="shop", name="svc0", reason="PodsNotReady"),
    )
    [group] = group_by_root_cause([*findings, blamed])
    assert group.root.kind == "Node" and blamed in group.symptoms


def test_a_cause_a_rule_set_gets_its_detail_from_the_message() -> None:
    message = "couldn't find key DATABASE_URL in ConfigMap shop/app-config"
    objects = [node("node-1"), deployment("api", replicas=1)]
    objects += [replicaset("api", "abc", created="06:00")]
    objects += [workload_pod("api", 0, containers=config_error(message))]
    snap = snapshot(*objects)
    cause = CauseRef(kind="ConfigMap", namespace="shop", name="app-config", reason="KeyNotFound")
    findings = [
        msgspec.structs.replace(f, caused_by=cause)
        if f.reason == "CreateContainerConfigError"
        else f
        for f in analyze(snap, now=NOW)
    ]
    groups = group_by_root_cause(link_causes(findings, snap, now=NOW))
    [group] = [g for g in groups if g.root.kind == "ConfigMap"]
    assert "has no key DATABASE_URL" in group.root.summary
