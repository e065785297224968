"""Rules one by one: the failure shape, the time window, and the noise that must stay quiet."""

from __future__ import annotations

import random
from datetime import timedelta

from k8s_monitor.analysis.findings import ObjectRef, Severity
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog, parse_catalog
from k8s_monitor.cluster.snapshot import CollectionGap, LogTail
from tests.unit.analysis.helpers import (
    NOW,
    node,
    pod,
    reasons,
    run,
    running,
    snapshot,
    terminated,
    waiting,
)

RS_OWNER = ("ReplicaSet", "web-5d4c3b2a1")
RS_LABELS = {"app": "web", "pod-template-hash": "5d4c3b2a1"}


def crashing(name: str, restarts: int = 7) -> dict[str, object]:
    return pod(
        name,
        owner=RS_OWNER,
        labels=RS_LABELS,
        ready=False,
        containers=[waiting("CrashLoopBackOff", restarts=restarts, last=terminated(1, "Error"))],
    )


# --- owner grouping -----------------------------------------------------------------------------


def test_crashing_pods_group_under_their_deployment_without_the_replicaset() -> None:
    findings = run(crashing("web-5d4c3b2a1-aaaaa"), crashing("web-5d4c3b2a1-bbbbb"))
    crash = [f for f in findings if f.reason == "CrashLoopBackOff"]
    assert len(crash) == 1
    assert crash[0].subject == ObjectRef(kind="Deployment", namespace="shop", name="web")
    assert [o.name for o in crash[0].objects] == ["web-5d4c3b2a1-aaaaa", "web-5d4c3b2a1-bbbbb"]
    assert crash[0].evidence["affected_pods"] == 2
    assert crash[0].evidence["last_exit_code"] == 1


def test_grouping_follows_the_replicaset_owner_when_present() -> None:
    rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "odd-name",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "checkout", "controller": True}],
        },
    }
    bad = pod(
        "odd-name-x",
        owner=("ReplicaSet", "odd-name"),
        ready=False,
        containers=[waiting("ImagePullBackOff")],
    )
    findings = run(rs, bad)
    assert ("Deployment", "checkout", "ImagePullBackOff") in reasons(findings)


def test_job_pods_group_under_the_cronjob() -> None:
    job = {
        "kind": "Job",
        "metadata": {
            "name": "backup-1",
            "namespace": "ops",
            "ownerReferences": [{"kind": "CronJob", "name": "backup", "controller": True}],
        },
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
        },
    }
    crash = pod(
        "backup-1-abc",
        "ops",
        owner=("Job", "backup-1"),
        ready=False,
        containers=[waiting("CrashLoopBackOff", restarts=4)],
    )
    found = reasons(run(job, crash))
    assert ("CronJob", "backup", "JobFailed") in found
    assert ("CronJob", "backup", "CrashLoopBackOff") in found


def test_bare_pods_are_their_own_subject() -> None:
    found = run(pod("debug", ready=False, containers=[waiting("ErrImagePull")]))
    assert reasons(found) == {("Pod", "debug", "ImagePullBackOff")}


# --- pod rules ----------------------------------------------------------------------------------


def test_waiting_reasons_map_to_canonical_reasons() -> None:
    cases = {
        "InvalidImageName": "ImagePullBackOff",
        "CreateContainerConfigError": "CreateContainerConfigError",
        "RunContainerError": "ContainerCannotRun",
        "CreateContainerError": "ContainerCannotRun",
    }
    for waiting_reason, canonical in cases.items():
        found = run(pod("p", ready=False, containers=[waiting(waiting_reason)]))
        assert ("Pod", "p", canonical) in reasons(found), waiting_reason
        assert all(f.severity is Severity.CRITICAL for f in found if f.reason == canonical)


def test_oomkilled_crash_loop_reports_both_cause_and_state() -> None:
    found = run(
        pod(
            "p",
            ready=False,
            containers=[waiting("CrashLoopBackOff", restarts=5, last=terminated(137, "OOMKilled"))],
        )
    )
    assert reasons(found) == {("Pod", "p", "CrashLoopBackOff"), ("Pod", "p", "OOMKilled")}


def test_old_restarts_on_a_ready_pod_are_not_news() -> None:
    old = terminated(137, "OOMKilled", finished="2024-05-12T09:00:00Z")
    assert run(pod("p", containers=[running(restarts=40, last=old)])) == []


def test_recent_restarts_on_a_ready_pod_are_high_restarts() -> None:
    recent = terminated(1, "Error", finished="09:40")
    found = run(pod("p", containers=[running(restarts=6, last=recent)]))
    assert reasons(found) == {("Pod", "p", "HighRestarts")}
    assert found[0].severity is Severity.WARNING


def test_recent_oomkill_on_a_recovered_pod_is_a_warning() -> None:
    recent = terminated(137, "OOMKilled", finished="09:50")
    found = run(pod("p", containers=[running(restarts=1, last=recent)]))
    assert [(f.reason, f.severity) for f in found] == [("OOMKilled", Severity.WARNING)]


def test_unschedulable_respects_the_startup_grace() -> None:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }
    young = pod(
        "p", phase="Pending", created="09:58", node="", containers=[], conditions=[condition]
    )
    old = pod("q", phase="Pending", created="09:30", node="", containers=[], conditions=[condition])
    assert run(young) == []
    found = run(old)
    assert reasons(found) == {("Pod", "q", "Unschedulable")}
    assert "Insufficient cpu" in found[0].message


def test_startup_grace_comes_from_the_services_catalog() -> None:
    catalog = parse_catalog("services:\n- name: slow\n  namespaces: [shop]\n  startup_grace: 1h\n")
    unready = pod(
        "p", ready=False, ready_since="09:30", created="09:30", containers=[running(ready=False)]
    )
    assert reasons(run(unready)) == {("Pod", "p", "PodNotReady")}
    assert run(unready, catalog=catalog) == []


def test_completed_job_pods_are_silent() -> None:
    done = pod(
        "job-x",
        phase="Succeeded",
        ready=False,
        owner=("Job", "job"),
        containers=[{"name": "app", "state": {"terminated": terminated(0, "Completed")}}],
    )
    assert run(done) == []


def _evicted(
    name: str, owner: tuple[str, str], node: str, since: str = "09:50"
) -> dict[str, object]:
    return pod(
        name,
        owner=owner,
        node=node,
        phase="Failed",
        ready=False,
        ready_since=since,
        containers=[],
        reason="Evicted",
        message="The node was low on resource: memory.",
    )


def _rs(name: str, replicas: int) -> dict[str, object]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
        "spec": {"replicas": replicas},
    }


def test_evictions_stay_warnings_while_the_owner_lives_and_name_the_node() -> None:
    # Age alone no longer hides an eviction: it says the node ran out of memory.
    old = _evicted("web-5d4c3b2a1-aaaaa", RS_OWNER, "node-7", "2024-05-10T09:50:00Z")
    findings = run(_rs("web-5d4c3b2a1", 3), old)
    (evicted,) = [f for f in findings if f.reason == "Evicted"]
    assert evicted.severity is Severity.WARNING
    assert evicted.subject == ObjectRef(kind="Deployment", namespace="shop", name="web")
    assert evicted.caused_by is not None
    assert (evicted.caused_by.kind, evicted.caused_by.name) == ("Node", "node-7")


def test_evictions_group_per_owner_and_blame_the_node_most_left() -> None:
    pods = [
        _evicted(f"web-5d4c3b2a1-{suffix}", RS_OWNER, node)
        for suffix, node in (("aaaaa", "node-7"), ("bbbbb", "node-7"), ("ccccc", "node-2"))
    ]
    (evicted,) = [f for f in run(_rs("web-5d4c3b2a1", 3), *pods) if f.reason == "Evicted"]
    assert evicted.evidence["nodes"] == {"node-2": 1, "node-7": 2}
    assert evicted.caused_by is not None and evicted.caused_by.name == "node-7"


def test_evictions_of_a_gone_or_retired_owner_are_debris() -> None:
    gone = _evicted("api-6f5e4d3c2-bbbbb", ("ReplicaSet", "api-6f5e4d3c2"), "node-1")
    retired = _evicted("web-5d4c3b2a1-ccccc", RS_OWNER, "node-1")
    findings = run(_rs("web-5d4c3b2a1", 0), gone, retired)
    evicted = [f for f in findings if f.reason == "Evicted"]
    assert evicted and {f.severity for f in evicted} == {Severity.INFO}
    assert all(f.caused_by is None for f in evicted)


def test_failed_mount_needs_a_recent_event_and_an_unready_pod() -> None:
    creating = pod("p", phase="Pending", ready=False, containers=[waiting("ContainerCreating")])
    event = {
        "kind": "Event",
        "metadata": {"name": "p.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "p"},
        "reason": "FailedMount",
        "message": 'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found',
        "type": "Warning",
        "lastTimestamp": "2024-05-14T09:59:00Z",
    }
    assert ("Pod", "p", "FailedMount") in reasons(run(creating, event))
    healthy = pod("p")
    assert run(healthy, event) == []


def test_stuck_terminating_pod() -> None:
    stuck = pod("p")
    stuck["metadata"]["deletionTimestamp"] = "2024-05-14T09:00:00Z"
    leaving = pod("q")
    leaving["metadata"]["deletionTimestamp"] = "2024-05-14T09:59:30Z"
    assert reasons(run(stuck, leaving)) == {("Pod", "p", "Terminating")}


def test_log_excerpt_is_part_of_the_evidence() -> None:
    snap = snapshot(pod("p", ready=False, containers=[waiting("CrashLoopBackOff", restarts=3)]))
    snap.log_tails = [
        LogTail(
            namespace="shop",
            pod="p",
            container="app",
            previous=True,
            text="panic: config key [REDACTED] missing",
        )
    ]
    found = analyze(snap, now=NOW)
    assert found[0].evidence["log_excerpt"] == "panic: config key [REDACTED] missing"


# --- nodes --------------------------------------------------------------------------------------


def test_node_not_ready_waits_out_a_short_window() -> None:
    assert run(node("n", ready="False", since="2024-05-14T09:59:30Z", pods="10")) == []
    found = run(node("n", ready="Unknown", since="2024-05-14T09:50:00Z", pods="10"))
    assert [(f.reason, f.severity) for f in found] == [("NodeNotReady", Severity.CRITICAL)]
    assert found[0].evidence["unreachable"] is True


def test_node_ready_now_is_healthy_whatever_its_history() -> None:
    assert run(node("n", ready="True", since="2024-05-14T09:59:00Z", pods="10")) == []


def test_kubelet_too_many_pods() -> None:
    pods = [pod(f"p{i}", node="n") for i in range(10)]
    assert ("Node", "n", "KubeletTooManyPods") in reasons(
        run(node("n", ready="True", since="2024-05-14T08:00:00Z", pods="10"), *pods)
    )


# --- workloads ----------------------------------------------------------------------------------


def _deploy(replicas: int, available: int, available_status: str = "True") -> dict[str, object]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "creationTimestamp": "2024-05-13T00:00:00Z",
        },
        "spec": {"replicas": replicas},
        "status": {
            "availableReplicas": available,
            "conditions": [
                {
                    "type": "Available",
                    "status": available_status,
                    "lastTransitionTime": "2024-05-14T09:00:00Z",
                }
            ],
        },
    }


def test_scaled_to_zero_is_never_a_finding() -> None:
    assert run(_deploy(0, 0)) == []


def test_unavailable_deployment_is_critical_when_nothing_serves() -> None:
    found = run(_deploy(2, 0, "False"))
    assert [(f.reason, f.severity) for f in found] == [("DeploymentUnavailable", Severity.CRITICAL)]


def test_rolling_update_inside_grace_is_not_unavailable() -> None:
    # Available stays True during a rollout; the new pod is still in its grace period.
    fresh = pod(
        "web-5d4c3b2a1-new",
        owner=RS_OWNER,
        labels=RS_LABELS,
        ready=False,
        ready_since="09:58",
        created="09:58",
        containers=[running(ready=False)],
    )
    assert run(_deploy(3, 2), fresh) == []


# --- collection gaps ----------------------------------------------------------------------------


def test_collection_gap_names_the_resource_and_the_rbac_fix() -> None:
    snap = snapshot()
    snap.gaps = [
        CollectionGap(
            resource="horizontalpodautoscalers",
            api_group="autoscaling",
            reason="forbidden",
            status=403,
        )
    ]
    [finding] = analyze(snap, now=NOW)
    assert finding.reason == "CollectionGap"
    assert "horizontalpodautoscalers.autoscaling" in finding.message
    assert "ClusterRole" in finding.message
    assert finding.severity is Severity.WARNING


# --- catalog and determinism --------------------------------------------------------------------


def test_known_issue_is_kept_as_info_with_its_reason() -> None:
    catalog = parse_catalog(
        "services:\n- name: web\n  selector: {app: web}\n  priority: P0\n"
        "  known_issues:\n  - pattern: CrashLoopBackOff\n    reason: fix rolling out\n"
    )
    found = run(crashing("web-5d4c3b2a1-aaaaa"), catalog=catalog)
    assert [(f.reason, f.severity) for f in found] == [("CrashLoopBackOff", Severity.INFO)]
    assert found[0].evidence["known_issue"] == "fix rolling out"
    assert found[0].evidence["service"] == "web"


def test_same_snapshot_in_any_order_gives_the_same_findings() -> None:
    objects = [crashing(f"web-5d4c3b2a1-{i}") for i in range(5)] + [
        pod("solo", ready=False, containers=[waiting("ErrImagePull")]),
        node("n", ready="False", since="2024-05-14T09:00:00Z", pods="10"),
    ]
    baseline = [f.to_json() for f in run(*objects)]
    shuffled = list(objects)
    random.Random(7).shuffle(shuffled)
    assert [f.to_json() for f in run(*shuffled)] == baseline
    assert [f.severity for f in baseline] == sorted(
        (f.severity for f in baseline), key=lambda s: -Severity(s).rank
    )


def test_now_is_injectable() -> None:
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    p = pod("p", phase="Pending", created="09:58", node="", containers=[], conditions=[condition])
    assert run(p, now=NOW) == []
    assert run(p, now=NOW + timedelta(minutes=10)) != []
    assert isinstance(ServiceCatalog().match("kube-system").priority.value, str)


# --- jobs ---------------------------------------------------------------------------------------


def _job(name: str, **status: object) -> dict[str, object]:
    return {
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ops"},
        "spec": {"backoffLimit": 2},
        "status": status,
    }


def test_job_failed_from_counts_before_the_condition_is_set() -> None:
    assert reasons(run(_job("a", failed=3))) == {("Job", "a", "JobFailed")}
    assert run(_job("b", failed=2)) == []  # still within its backoff limit
    assert run(_job("c", failed=3, active=1)) == []  # still retrying


def test_failed_job_pods_count_only_when_jobs_were_not_collected() -> None:
    failed = pod(
        "x-1",
        "ops",
        owner=("Job", "x"),
        phase="Failed",
        ready=False,
        containers=[{"name": "app", "state": {"terminated": terminated(1, "Error")}}],
    )
    assert reasons(run(failed)) == {("Job", "x", "JobFailed")}
    running_job = _job("x", active=1)
    assert run(failed, running_job) == []


def test_naive_now_is_taken_as_utc() -> None:
    crash = pod("p", ready=False, containers=[waiting("CrashLoopBackOff", restarts=3)])
    assert run(crash, now=NOW.replace(tzinfo=None)) == run(crash)


def test_an_old_oomkill_does_not_explain_a_pod_unready_today() -> None:
    old = terminated(137, "OOMKilled", finished="2024-05-01T09:00:00Z")
    unready = pod(
        "p",
        ready=False,
        ready_since="09:00",
        containers=[running(restarts=1, last=old, ready=False)],
    )
    assert reasons(run(unready)) == {("Pod", "p", "PodNotReady")}


def test_init_container_retrying_after_a_failure_is_not_yet_failed() -> None:
    retry = {
        "name": "init",
        "restartCount": 1,
        "state": {"running": {}},
        "lastState": {"terminated": terminated(1, "Error")},
    }
    pending = pod(
        "p",
        phase="Pending",
        ready=False,
        ready_since="09:58",
        created="09:58",
        init=[retry],
        containers=[waiting("PodInitializing")],
    )
    assert run(pending) == []


def test_statefulset_update_that_does_not_roll_out() -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "creationTimestamp": "2024-05-01T00:00:00Z",
        },
        "spec": {"replicas": 3},
        "status": {
            "readyReplicas": 2,
            "updatedReplicas": 1,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }
    stuck = pod(
        "db-2",
        owner=("StatefulSet", "db"),
        ready=False,
        ready_since="09:00",
        containers=[running(ready=False)],
    )
    fine = [pod(f"db-{i}", owner=("StatefulSet", "db")) for i in (0, 1)]
    found = reasons(run(sts, stuck, *fine))
    assert {
        ("StatefulSet", "db", "RolloutStuck"),
        ("StatefulSet", "db", "StatefulSetUnavailable"),
    } <= found


def test_hpa_noise_cases() -> None:
    def hpa(
        name: str, conditions: list[dict[str, str]], mn: int = 1, current: int = 4
    ) -> dict[str, object]:
        return {
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "minReplicas": mn,
                "maxReplicas": 4,
                "scaleTargetRef": {"kind": "Deployment", "name": name},
            },
            "status": {
                "currentReplicas": current,
                "desiredReplicas": current,
                "conditions": conditions,
            },
        }

    old = "2024-05-14T08:00:00Z"
    disabled = hpa(
        "idle",
        [
            {
                "type": "ScalingActive",
                "status": "False",
                "reason": "ScalingDisabled",
                "lastTransitionTime": old,
            }
        ],
        current=0,
    )
    fixed = hpa(
        "fixed",
        [
            {
                "type": "ScalingLimited",
                "status": "True",
                "reason": "TooManyReplicas",
                "lastTransitionTime": old,
            }
        ],
        mn=4,
    )
    fresh = hpa(
        "busy",
        [
            {
                "type": "ScalingLimited",
                "status": "True",
                "reason": "TooManyReplicas",
                "lastTransitionTime": "2024-05-14T09:55:00Z",
            }
        ],
    )
    assert run(disabled, fixed, fresh) == []
    assert reasons(run(fresh, now=NOW + timedelta(minutes=15))) == {
        ("HorizontalPodAutoscaler", "busy", "HPAMaxedOut")
    }


def test_batch_pods_are_warnings_not_pages() -> None:
    crash = pod(
        "nightly-1-x",
        "ops",
        owner=("Job", "nightly-1"),
        ready=False,
        containers=[waiting("CrashLoopBackOff", restarts=4)],
    )
    [finding] = run(crash)
    assert (finding.subject.kind, finding.severity) == ("Job", Severity.WARNING)


def test_transient_collection_gaps_are_info() -> None:
    snap = snapshot()
    snap.gaps = [
        CollectionGap(resource="events", api_group="", reason="timeout", fix="retry next cycle")
    ]
    [finding] = analyze(snap, now=NOW)
    assert finding.severity is Severity.INFO and "retry next cycle" in finding.message


def test_a_crashing_sidecar_is_found_even_when_the_pod_is_ready() -> None:
    sidecar = waiting("CrashLoopBackOff", name="proxy", restarts=8)
    found = run(pod("p", init=[sidecar]))
    assert ("Pod", "p", "InitContainerFailed") in reasons(found)
