"""EKS failure modes, each with the cause the rule can read straight from the cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.cron import CronError, parse_schedule
from k8s_monitor.analysis.rules.messages import failed_create_cause, scheduling_verdict
from k8s_monitor.analysis.services import parse_catalog
from k8s_monitor.cluster.snapshot import CollectionGap
from tests.unit.analysis.helpers import node, pod, run, snapshot, ts, waiting

RS_OWNER = ("ReplicaSet", "web-5d4c3b2a1")
RS_LABELS = {"app": "web", "pod-template-hash": "5d4c3b2a1"}


def event(
    kind: str,
    name: str,
    reason: str,
    message: str,
    *,
    namespace: str = "shop",
    last: str = "09:55",
    component: str = "kubelet",
) -> dict[str, Any]:
    return {
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason}.{last}", "namespace": namespace},
        "involvedObject": {"kind": kind, "namespace": namespace, "name": name},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 4,
        "lastTimestamp": ts(last),
        "source": {"component": component},
    }


def deployment(
    name: str = "web", replicas: int = 3, available: int = 3, **status: Any
) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": ts("2024-05-01T00:00:00Z"),
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "replicas": replicas,
            "availableReplicas": available,
            "readyReplicas": available,
            "updatedReplicas": replicas,
            **status,
        },
    }


def replicaset(
    name: str, revision: int, wanted: int, have: int, ready: int, deploy: str = "web"
) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": deploy, "controller": True}],
        },
        "spec": {"replicas": wanted},
        "status": {"replicas": have, "readyReplicas": ready, "availableReplicas": ready},
    }


def only(findings: list[Finding], reason: str) -> Finding:
    matching = [f for f in findings if f.reason == reason]
    assert len(matching) == 1, [(f.reason, str(f.subject)) for f in findings]
    return matching[0]


QUOTA = (
    'Error creating: pods "web-7f6e5d4c3-abcde" is forbidden: exceeded quota: compute-quota,'
    " requested: requests.cpu=500m, used: requests.cpu=7800m, limited: requests.cpu=8"
)
WEBHOOK = (
    'Error creating: Internal error occurred: failed calling webhook "validate.kyverno.svc-fail":'
    ' failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s":'
    " context deadline exceeded"
)


# --- FailedCreate ----------------------------------------------------------------------------


def test_new_replicaset_refused_by_quota_while_the_old_one_serves() -> None:
    findings = run(
        deployment(available=3),
        replicaset("web-5d4c3b2a1", 1, 3, 3, 3),
        replicaset("web-7f6e5d4c3", 2, 1, 0, 0),
        event(
            "ReplicaSet", "web-7f6e5d4c3", "FailedCreate", QUOTA, component="replicaset-controller"
        ),
    )
    finding = only(findings, "FailedCreate")
    assert finding.subject == ObjectRef(kind="Deployment", namespace="shop", name="web")
    assert finding.severity is Severity.WARNING  # the old ReplicaSet still serves
    assert finding.caused_by == CauseRef(
        kind="ResourceQuota", namespace="shop", name="compute-quota", reason="QuotaExceeded"
    )
    assert "rollout of deployment web is blocked" in finding.message
    assert finding.evidence["serving_replicasets"] == ["web-5d4c3b2a1"]


def test_refused_with_nothing_serving_is_critical_and_names_the_webhook() -> None:
    findings = run(
        deployment(available=0),
        replicaset("web-7f6e5d4c3", 2, 3, 0, 0),
        event("ReplicaSet", "web-7f6e5d4c3", "FailedCreate", WEBHOOK),
    )
    finding = only(findings, "FailedCreate")
    assert finding.severity is Severity.CRITICAL
    assert finding.caused_by == CauseRef(
        kind="AdmissionWebhook",
        namespace="",
        name="validate.kyverno.svc-fail",
        reason="WebhookUnavailable",
    )


def test_a_refusal_followed_by_success_is_history() -> None:
    findings = run(
        deployment(available=3),
        replicaset("web-7f6e5d4c3", 2, 3, 3, 3),
        event("ReplicaSet", "web-7f6e5d4c3", "FailedCreate", QUOTA),
    )
    assert [f for f in findings if f.reason == "FailedCreate"] == []


def test_an_event_about_an_object_not_in_the_snapshot_is_still_a_finding() -> None:
    findings = run(
        pod("other-1"),
        event("StatefulSet", "ghost", "FailedCreate", QUOTA),
    )
    finding = only(findings, "FailedCreate")
    assert finding.subject == ObjectRef(kind="StatefulSet", namespace="shop", name="ghost")
    assert finding.evidence["object_missing"] is True
    assert finding.caused_by is not None and finding.caused_by.kind == "ResourceQuota"


def test_replica_failure_condition_alone_names_the_cause() -> None:
    failure = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": 'pods "web-x" is forbidden: no PriorityClass with name critical-apps was found',
    }
    available = {
        "type": "Available",
        "status": "False",
        "lastTransitionTime": ts("09:00"),
    }
    findings = run(deployment(available=0, conditions=[available, failure]))
    cause = CauseRef(kind="PriorityClass", namespace="", name="critical-apps", reason="NotFound")
    assert only(findings, "FailedCreate").caused_by == cause
    assert only(findings, "DeploymentUnavailable").caused_by == cause


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (QUOTA, ("ResourceQuota", "shop", "compute-quota")),
        (WEBHOOK, ("AdmissionWebhook", "", "validate.kyverno.svc-fail")),
        (
            'Error creating: admission webhook "validation.gatekeeper.sh" denied the request: x',
            ("AdmissionWebhook", "", "validation.gatekeeper.sh"),
        ),
        (
            'Error creating: pods "x" is forbidden: error looking up service account'
            ' shop/builder: serviceaccount "builder" not found',
            ("ServiceAccount", "shop", "builder"),
        ),
        (
            'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
            ("Namespace", "", "shop"),
        ),
        ("Error creating: the server was unable to return a response", None),
    ],
)
def test_failed_create_messages(message: str, expected: tuple[str, str, str] | None) -> None:
    cause = failed_create_cause(message, "shop")
    assert (None if cause is None else (cause.kind, cause.namespace, cause.name)) == expected


# --- Services ----------------------------------------------------------------------------------


def service(name: str = "web", selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": ts("08:00")},
        "spec": {"selector": {"app": name} if selector is None else selector, "type": "ClusterIP"},
    }


def endpoint_slice(service_name: str, *ready: bool) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abcde",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"conditions": {"ready": r}} for r in ready],
    }


def web_pod(name: str, ready: bool, created: str = "08:00") -> dict[str, Any]:
    containers = None if ready else [waiting("CrashLoopBackOff", restarts=4)]
    return pod(
        name,
        owner=RS_OWNER,
        labels=RS_LABELS,
        ready=ready,
        created=created,
        ready_since=created,
        containers=containers,
    )


def test_service_without_ready_endpoints_is_critical_and_caused_by_its_workload() -> None:
    findings = run(
        service(),
        endpoint_slice("web", False, False),
        web_pod("web-5d4c3b2a1-aaaaa", ready=False),
        web_pod("web-5d4c3b2a1-bbbbb", ready=False),
    )
    finding = only(findings, "ServiceNoReadyEndpoints")
    assert finding.severity is Severity.CRITICAL
    assert finding.caused_by == CauseRef(
        kind="Deployment", namespace="shop", name="web", reason="PodsNotReady"
    )
    assert finding.evidence["source"] == "endpointslices"


def test_one_ready_endpoint_is_enough() -> None:
    findings = run(
        service(),
        endpoint_slice("web", True, False),
        web_pod("web-5d4c3b2a1-aaaaa", ready=False),
    )
    assert [f for f in findings if f.subject.kind == "Service"] == []


def test_selector_matching_no_pod_is_the_services_own_fault() -> None:
    findings = run(service(selector={"app": "web-v2"}), web_pod("web-5d4c3b2a1-aaaaa", True))
    finding = only(findings, "ServiceSelectsNoPods")
    assert finding.severity is Severity.WARNING and finding.caused_by is None
    assert "app=web-v2" in finding.message


def test_quiet_services_stay_quiet() -> None:
    scaled_down = deployment("batch", replicas=0, available=0)
    no_selector = service("external", selector={})
    starting = web_pod("web-5d4c3b2a1-ccccc", ready=False, created="09:58")
    findings = run(scaled_down, service("batch"), no_selector, service(), starting)
    assert [f for f in findings if f.subject.kind == "Service"] == []


def test_services_are_not_judged_without_pods() -> None:
    findings = analyze_with_gap(service(), endpoint_slice("web"))
    assert [f for f in findings if f.subject.kind == "Service"] == []


def analyze_with_gap(*objects: dict[str, Any]) -> list[Finding]:
    from k8s_monitor.analysis.rules import analyze

    snap = snapshot(
        *objects,
        gaps=[CollectionGap(resource="pods", api_group="", reason="forbidden", status=403)],
    )
    return analyze(snap, now=datetime(2024, 5, 14, 10, tzinfo=UTC))


# --- pods: sandbox, scheduling, volumes, config ------------------------------------------------


CNI_MESSAGE = (
    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for"
    ' sandbox "4a1c": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to'
    " assign an IP address to container"
)


def pending(name: str, created: str = "09:00", **extra: Any) -> dict[str, Any]:
    return pod(
        name,
        owner=RS_OWNER,
        labels=RS_LABELS,
        phase="Pending",
        ready=False,
        created=created,
        ready_since=created,
        containers=[waiting("ContainerCreating")],
        **extra,
    )


def test_vpc_cni_out_of_ips_is_critical_and_points_at_aws_node() -> None:
    aws_node = {"kind": "DaemonSet", "metadata": {"name": "aws-node", "namespace": "kube-system"}}
    findings = run(
        aws_node,
        pending("web-5d4c3b2a1-aaaaa"),
        event("Pod", "web-5d4c3b2a1-aaaaa", "FailedCreatePodSandBox", CNI_MESSAGE),
    )
    finding = only(findings, "FailedCreatePodSandBox")
    assert finding.severity is Severity.CRITICAL
    assert finding.subject.name == "web"
    assert finding.caused_by == CauseRef(
        kind="DaemonSet", namespace="kube-system", name="aws-node", reason="IPAddressesExhausted"
    )


def test_sandbox_failures_get_the_startup_grace() -> None:
    findings = run(
        pending("web-5d4c3b2a1-aaaaa", created="09:58"),
        event("Pod", "web-5d4c3b2a1-aaaaa", "FailedCreatePodSandBox", CNI_MESSAGE, last="09:59"),
    )
    assert [f for f in findings if f.reason == "FailedCreatePodSandBox"] == []


def _unschedulable(name: str, message: str, created: str) -> dict[str, Any]:
    return pod(
        name,
        owner=RS_OWNER,
        labels=RS_LABELS,
        phase="Pending",
        ready=False,
        created=created,
        containers=[],
        node="",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastTransitionTime": ts(created),
            }
        ],
    )


IMPOSSIBLE = (
    "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector. preemption:"
    " 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
)
SHORT = "0/4 nodes are available: 4 Insufficient cpu. preemption: 0/4 nodes are available."


def test_a_constraint_no_node_meets_warns_at_once_but_shortages_wait() -> None:
    impossible = _unschedulable("web-5d4c3b2a1-aaaaa", IMPOSSIBLE, "09:59")
    findings = run(impossible)
    finding = only(findings, "Unschedulable")
    assert finding.severity is Severity.WARNING
    assert finding.evidence["unsatisfiable"] == ["node affinity/selector"]
    assert run(_unschedulable("web-5d4c3b2a1-bbbbb", SHORT, "09:59")) == []


def test_scheduler_verdicts() -> None:
    taint = scheduling_verdict(
        "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}."
    )
    assert taint.impossible and taint.permanent == ("taint {dedicated: gpu} not tolerated",)
    lifecycle = scheduling_verdict(
        "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    )
    assert not lifecycle.impossible
    mixed = scheduling_verdict(
        "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had volume node affinity"
        " conflict."
    )
    assert mixed.permanent == ("volume node affinity conflict",) and not mixed.impossible


def test_cluster_autoscaler_at_max_size_warns_at_once_naming_it() -> None:
    name = "web-5d4c3b2a1-aaaaa"
    findings = run(
        _unschedulable(name, SHORT, "09:59"),
        event(
            "Pod",
            name,
            "NotTriggerScaleUp",
            "pod didn't trigger scale-up: 2 max node group size reached",
            last="09:59",
            component="cluster-autoscaler",
        ),
    )
    finding = only(findings, "Unschedulable")
    assert finding.caused_by == CauseRef(
        kind="ClusterAutoscaler",
        namespace="kube-system",
        name="cluster-autoscaler",
        reason="MaxNodeGroupSizeReached",
    )


def test_karpenter_nodepool_limits_name_the_nodepool() -> None:
    name = "web-5d4c3b2a1-aaaaa"
    findings = run(
        _unschedulable(name, SHORT, "09:59"),
        event(
            "Pod",
            name,
            "FailedScheduling",
            "Failed to schedule pod, all available instance types exceed limits for nodepool:"
            ' "default"',
            last="09:59",
            component="karpenter",
        ),
    )
    cause = only(findings, "Unschedulable").caused_by
    assert cause == CauseRef(kind="NodePool", namespace="", name="default", reason="LimitsExceeded")


def test_volume_zone_conflict_points_at_the_bound_volume() -> None:
    message = "0/3 nodes are available: 3 node(s) had volume node affinity conflict."
    claim = {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-redis-0", "namespace": "shop"},
        "spec": {"volumeName": "pvc-0a1b2c", "storageClassName": "gp3"},
        "status": {"phase": "Bound"},
    }
    redis = _unschedulable("redis-0", message, "09:59")
    redis["metadata"]["ownerReferences"] = [
        {"kind": "StatefulSet", "name": "redis", "controller": True}
    ]
    finding = only(run(claim, redis), "Unschedulable")
    assert finding.subject == ObjectRef(kind="StatefulSet", namespace="shop", name="redis")
    assert finding.caused_by == CauseRef(
        kind="PersistentVolume",
        namespace="",
        name="pvc-0a1b2c",
        reason="VolumeNodeAffinityConflict",
    )


def test_failed_attach_names_the_volume() -> None:
    name = "web-5d4c3b2a1-aaaaa"
    message = (
        'Multi-Attach error for volume "pvc-9f8e7d" Volume is already exclusively attached to one'
        " node and can't be attached to another"
    )
    findings = run(pending(name), event("Pod", name, "FailedAttachVolume", message))
    cause = only(findings, "FailedMount").caused_by
    assert cause == CauseRef(
        kind="PersistentVolume", namespace="", name="pvc-9f8e7d", reason="MultiAttach"
    )


def test_config_error_names_the_configmap_key() -> None:
    broken = pod(
        "web-5d4c3b2a1-aaaaa",
        owner=RS_OWNER,
        labels=RS_LABELS,
        phase="Pending",
        ready=False,
        containers=[
            waiting(
                "CreateContainerConfigError",
                message="couldn't find key DB_HOST in ConfigMap shop/web-config",
            )
        ],
    )
    cause = only(run(broken), "CreateContainerConfigError").caused_by
    assert cause == CauseRef(
        kind="ConfigMap", namespace="shop", name="web-config", reason="KeyNotFound"
    )


# --- storage, policy, nodes ---------------------------------------------------------------------


def claim(storage_class: str) -> dict[str, Any]:
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "shop", "creationTimestamp": ts("09:00")},
        "spec": {"storageClassName": storage_class},
        "status": {"phase": "Pending"},
    }


def storage_class(name: str) -> dict[str, Any]:
    return {"kind": "StorageClass", "metadata": {"name": name}, "provisioner": "ebs.csi.aws.com"}


def test_claim_naming_a_missing_storage_class_is_caused_by_it() -> None:
    finding = only(run(claim("gp3-encrypted"), storage_class("gp3")), "PVCPending")
    assert finding.caused_by == CauseRef(
        kind="StorageClass", namespace="", name="gp3-encrypted", reason="NotFound"
    )
    assert only(run(claim("gp3"), storage_class("gp3")), "PVCPending").caused_by is None
    # Without the class list (a dump), only the provisioner's own words count.
    provisioner = event(
        "PersistentVolumeClaim",
        "data",
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "fast" not found',
    )
    cause = only(run(claim("fast"), provisioner), "PVCPending").caused_by
    assert cause is not None and cause.name == "fast"
    assert only(run(claim("fast")), "PVCPending").caused_by is None


def pdb(healthy: int, desired: int, allowed: int, expected: int = 2) -> dict[str, Any]:
    return {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"minAvailable": desired},
        "status": {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
        },
    }


def test_pdb_that_allows_no_disruption_while_healthy_blocks_drains() -> None:
    finding = only(run(pdb(2, 2, 0)), "PDBBlocksDisruption")
    assert finding.severity is Severity.WARNING and "blocks every node drain" in finding.message
    assert [f for f in run(pdb(3, 2, 1, 3)) if f.reason.startswith("PDB")] == []
    assert {f.reason for f in run(pdb(1, 2, 0))} == {"PDBNotEnoughHealthyPods"}
    # At its minimum only because a rollout broke one pod: the pod is the news, not the budget.
    assert [f for f in run(pdb(3, 3, 0, 4)) if f.reason.startswith("PDB")] == []


def test_cordons_warn_unless_seen_to_begin_within_the_hour() -> None:
    key = "node.kubernetes.io/unschedulable"
    undated = node("a", unschedulable=True, taints=({"key": key, "effect": "NoSchedule"},))
    fresh = node(
        "b",
        unschedulable=True,
        taints=({"key": key, "effect": "NoSchedule", "timeAdded": ts("09:40")},),
    )
    old = node(
        "c",
        unschedulable=True,
        taints=({"key": key, "effect": "NoSchedule", "timeAdded": ts("08:40")},),
    )
    severities = {f.subject.name: f.severity for f in run(undated, fresh, old)}
    assert severities == {"a": Severity.WARNING, "b": Severity.INFO, "c": Severity.WARNING}


# --- CronJobs -----------------------------------------------------------------------------------


def cronjob(schedule: str, last: str | None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last is not None:
        status["lastScheduleTime"] = ts(last)
    return {
        "kind": "CronJob",
        "metadata": {
            "name": "report",
            "namespace": "shop",
            "creationTimestamp": ts("2024-05-01T00:00:00Z"),
        },
        "spec": {"schedule": schedule, **spec},
        "status": status,
    }


def test_cronjob_that_missed_its_run_is_a_warning() -> None:
    finding = only(run(cronjob("*/15 * * * *", "09:15")), "CronJobNotScheduling")
    assert finding.evidence["due"] == "2024-05-14T09:45:00+00:00"
    assert run(cronjob("*/15 * * * *", "09:45")) == []
    assert run(cronjob("*/15 * * * *", "09:15", suspend=True)) == []
    # Created after the last due time: not due yet.
    fresh = cronjob("0 3 * * *", None)
    fresh["metadata"]["creationTimestamp"] = ts("09:00")
    assert run(fresh) == []


def test_cronjob_blocked_by_its_own_stuck_run_says_so() -> None:
    stuck = cronjob("0 * * * *", "08:00", concurrencyPolicy="Forbid")
    stuck["status"]["active"] = [{"kind": "Job", "namespace": "shop", "name": "report-28590"}]
    finding = only(run(stuck), "CronJobNotScheduling")
    assert "report-28590 is still active" in finding.message


def test_cron_schedules() -> None:
    at = datetime(2024, 5, 14, 10, 7, tzinfo=UTC)  # a Tuesday
    assert parse_schedule("*/30 * * * *").previous(at) == at.replace(minute=0)
    assert parse_schedule("0 3 * * MON-FRI").previous(at) == at.replace(hour=3, minute=0)
    assert parse_schedule("0 3 * * 0").previous(at) == datetime(2024, 5, 12, 3, tzinfo=UTC)
    assert parse_schedule("@monthly").previous(at) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_schedule("0 0 13 * 5").previous(at) == datetime(2024, 5, 13, tzinfo=UTC)
    for bad in ("* * *", "61 * * * *", "*/0 * * * *", "0 0 * * funday"):
        with pytest.raises(CronError):
            parse_schedule(bad)


# --- critical kube-system components ------------------------------------------------------------


def daemonset(name: str, namespace: str = "kube-system") -> dict[str, Any]:
    return {
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": ts("2024-05-01T00:00:00Z"),
        },
        "status": {
            "desiredNumberScheduled": 5,
            "currentNumberScheduled": 5,
            "numberReady": 4,
            "numberAvailable": 4,
            "numberUnavailable": 1,
        },
    }


def test_degraded_kube_system_components_are_critical_by_default() -> None:
    findings = run(daemonset("aws-node"), daemonset("fluent-bit"))
    severities = {f.subject.name: f.severity for f in findings}
    assert severities == {"aws-node": Severity.CRITICAL, "fluent-bit": Severity.WARNING}
    aws = next(f for f in findings if f.subject.name == "aws-node")
    assert aws.evidence["critical_component"] is True
    relaxed = parse_catalog("defaults: {critical_components: []}")
    assert {f.severity for f in run(daemonset("aws-node"), catalog=relaxed)} == {Severity.WARNING}


def test_cronjob_whose_jobs_are_refused_names_the_quota() -> None:
    refusal = event(
        "CronJob",
        "report",
        "FailedCreate",
        'Error creating job: jobs.batch "report-28590" is forbidden: exceeded quota: job-quota,'
        " requested: count/jobs.batch=1, used: count/jobs.batch=30, limited: count/jobs.batch=30",
        component="cronjob-controller",
    )
    findings = run(cronjob("*/15 * * * *", "09:15"), refusal)
    quota = CauseRef(
        kind="ResourceQuota", namespace="shop", name="job-quota", reason="QuotaExceeded"
    )
    assert only(findings, "CronJobNotScheduling").caused_by == quota
    refused = only(findings, "FailedCreate")
    assert refused.caused_by == quota and "cannot create jobs" in refused.message


def test_sandbox_failures_show_from_events_alone_when_pods_were_not_read() -> None:
    gap = CollectionGap(resource="pods", api_group="", reason="forbidden", status=403)
    from k8s_monitor.analysis.rules import analyze

    snap = snapshot(event("Pod", "web-1", "FailedCreatePodSandBox", CNI_MESSAGE), gaps=[gap])
    findings = analyze(snap, now=datetime(2024, 5, 14, 10, tzinfo=UTC))
    assert only(findings, "FailedCreatePodSandBox").evidence["source"] == "events"
