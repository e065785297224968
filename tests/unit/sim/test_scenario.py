"""The incident-day scenario and the scenario DSL: what each step shows, and that it is real."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from k8s_monitor.cluster.snapshot import snapshot_from_objects
from k8s_monitor.errors import ConfigurationError
from k8s_monitor.sim import Scenario, load_scenario, shipped_scenarios
from k8s_monitor.sim.api import RESOURCES
from k8s_monitor.sim.objects import crash_restarts
from k8s_monitor.sim.view import ClusterView
from tests.unit.sim.conftest import FIXED_START

CHECKOUT_NODE = "ip-10-0-2-47.us-east-1.compute.internal"


def objects(view: ClusterView, resource: str) -> list[dict[str, Any]]:
    collection = view.collection(resource)
    assert collection is not None
    return list(collection.items(0, len(collection)))


def waiting_reason(pod: dict[str, Any]) -> str | None:
    statuses = pod["status"].get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting", {}).get("reason")


def at(scenario: Scenario, step: int) -> ClusterView:
    return scenario.view(step, FIXED_START + timedelta(seconds=900 * step))


def test_incident_day_is_shipped_with_its_five_steps(incident_day: Scenario) -> None:
    assert "incident-day" in shipped_scenarios()
    assert list(incident_day.step_names) == [
        "healthy-baseline",
        "checkout-crashloop",
        "node-memory-pressure",
        "payments-bad-rollout",
        "recovery",
    ]


def test_baseline_is_about_fifty_healthy_pods(incident_day: Scenario) -> None:
    view = at(incident_day, 0)
    pods = objects(view, "pods")
    assert 40 <= len(pods) <= 60
    assert {p["status"]["phase"] for p in pods} <= {"Running", "Succeeded"}
    assert len({p["metadata"]["namespace"] for p in pods}) >= 4
    assert not [e for e in objects(view, "events") if e["type"] == "Warning"]


def test_crashloop_step_shows_backoff_with_restarts_exit_code_and_events(
    incident_day: Scenario,
) -> None:
    view = at(incident_day, 1)
    crashing = [p for p in objects(view, "pods") if waiting_reason(p) == "CrashLoopBackOff"]
    assert {p["metadata"]["labels"]["app"] for p in crashing} == {"checkout"}
    assert len(crashing) == 3
    for pod in crashing:
        status = pod["status"]["containerStatuses"][0]
        assert status["restartCount"] >= 3
        assert status["lastState"]["terminated"]["exitCode"] == 1
        assert status["lastState"]["terminated"]["reason"] == "Error"
        assert status["ready"] is False
        assert pod["status"]["phase"] == "Running"
    backoffs = [e for e in objects(view, "events") if e["reason"] == "BackOff"]
    assert {e["involvedObject"]["name"] for e in backoffs} == {
        p["metadata"]["name"] for p in crashing
    }
    assert all(e["type"] == "Warning" and e["count"] >= 1 for e in backoffs)


def test_crashlooping_pods_previous_log_has_the_error_and_a_planted_secret(
    incident_day: Scenario,
) -> None:
    view = at(incident_day, 1)
    pod = next(p for p in objects(view, "pods") if waiting_reason(p) == "CrashLoopBackOff")
    logs = view.logs("shop", pod["metadata"]["name"], "checkout")
    assert logs is not None and logs.previous is not None
    assert "PoolTimeout" in logs.previous
    assert "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" in logs.previous


def test_memory_pressure_step_sets_condition_taint_and_event(incident_day: Scenario) -> None:
    view = at(incident_day, 2)
    node = next(n for n in objects(view, "nodes") if n["metadata"]["name"] == CHECKOUT_NODE)
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert conditions["MemoryPressure"]["status"] == "True"
    assert conditions["MemoryPressure"]["reason"] == "KubeletHasInsufficientMemory"
    assert conditions["Ready"]["status"] == "True"
    assert {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"} in node["spec"][
        "taints"
    ]
    reasons = {
        e["reason"]
        for e in objects(view, "events")
        if e["involvedObject"]["kind"] == "Node" and e["involvedObject"]["name"] == CHECKOUT_NODE
    }
    assert {"NodeHasInsufficientMemory", "EvictionThresholdMet"} <= reasons
    # The crash loop has not been fixed yet.
    assert any(waiting_reason(p) == "CrashLoopBackOff" for p in objects(view, "pods"))


def test_bad_rollout_gives_imagepullbackoff_on_the_new_replicaset_only(
    incident_day: Scenario,
) -> None:
    view = at(incident_day, 3)
    api_pods = [
        p for p in objects(view, "pods") if p["metadata"]["labels"].get("app") == "payments-api"
    ]
    pulling = [p for p in api_pods if waiting_reason(p) == "ImagePullBackOff"]
    running = [p for p in api_pods if p["status"]["phase"] == "Running"]
    assert len(pulling) == 2 and len(running) == 3  # 25% surge + 25% unavailable of 4
    assert all(p["spec"]["containers"][0]["image"].endswith(":2.5.0-rc1") for p in pulling)
    new_rs = {p["metadata"]["ownerReferences"][0]["name"] for p in pulling}
    old_rs = {p["metadata"]["ownerReferences"][0]["name"] for p in running}
    assert len(new_rs) == 1 and len(old_rs) == 1 and new_rs != old_rs
    deployment = next(
        d for d in objects(view, "deployments") if d["metadata"]["name"] == "payments-api"
    )
    progressing = next(c for c in deployment["status"]["conditions"] if c["type"] == "Progressing")
    # The rollout began half a step (450 s) ago: within the 600 s progress deadline.
    assert (progressing["status"], progressing["reason"]) == ("True", "ReplicaSetUpdated")
    assert deployment["status"]["updatedReplicas"] == 2
    failed = [e for e in objects(view, "events") if e["reason"] == "Failed"]
    assert any("2.5.0-rc1" in e["message"] and "not found" in e["message"] for e in failed)


def test_recovery_step_is_healthy_but_keeps_recent_events(incident_day: Scenario) -> None:
    view = at(incident_day, 4)
    pods = objects(view, "pods")
    assert not [p for p in pods if waiting_reason(p)]
    assert {p["status"]["phase"] for p in pods} <= {"Running", "Succeeded"}
    node = next(n for n in objects(view, "nodes") if n["metadata"]["name"] == CHECKOUT_NODE)
    pressure = next(c for c in node["status"]["conditions"] if c["type"] == "MemoryPressure")
    assert pressure["status"] == "False"
    assert "taints" not in node["spec"]
    # Events from the incident are younger than the apiserver's one-hour TTL.
    assert any(e["reason"] == "BackOff" for e in objects(view, "events"))


def test_every_pod_owner_chain_resolves(incident_day: Scenario) -> None:
    view = at(incident_day, 3)
    by_kind: dict[str, set[tuple[str, str]]] = {}
    for resource, kind in (
        ("replicasets", "ReplicaSet"),
        ("deployments", "Deployment"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
        ("jobs", "Job"),
        ("cronjobs", "CronJob"),
    ):
        by_kind[kind] = {
            (o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects(view, resource)
        }
    owned = 0
    for resource in ("pods", "replicasets", "jobs"):
        for obj in objects(view, resource):
            for ref in obj["metadata"].get("ownerReferences", []):
                assert (obj["metadata"]["namespace"], ref["name"]) in by_kind[ref["kind"]]
                owned += 1
    assert owned > 50
    job_owners = {o["metadata"]["ownerReferences"][0]["kind"] for o in objects(view, "jobs")}
    assert job_owners == {"CronJob"}


def test_fixed_clock_renders_identically_and_wall_clock_follows_now(
    incident_day: Scenario,
) -> None:
    first = objects(at(incident_day, 2), "pods")
    second = objects(at(incident_day, 2), "pods")
    assert first == second
    later = FIXED_START + timedelta(days=1)
    moved = objects(incident_day.view(2, later), "pods")
    assert moved[0]["metadata"]["creationTimestamp"] != first[0]["metadata"]["creationTimestamp"]
    # Object identity does not depend on the clock (CronJob runs do: their names carry the time).
    assert uids_outside_jobs(moved) == uids_outside_jobs(first)


def uids_outside_jobs(pods: list[dict[str, Any]]) -> list[str]:
    return [
        p["metadata"]["uid"] for p in pods if p["metadata"]["ownerReferences"][0]["kind"] != "Job"
    ]


_CLIENT_TYPES = {
    "Pod": "V1PodList",
    "Node": "V1NodeList",
    "Event": "CoreV1EventList",
    "Namespace": "V1NamespaceList",
    "PersistentVolumeClaim": "V1PersistentVolumeClaimList",
    "PersistentVolume": "V1PersistentVolumeList",
    "ResourceQuota": "V1ResourceQuotaList",
    "Deployment": "V1DeploymentList",
    "ReplicaSet": "V1ReplicaSetList",
    "StatefulSet": "V1StatefulSetList",
    "DaemonSet": "V1DaemonSetList",
    "Job": "V1JobList",
    "CronJob": "V1CronJobList",
    "HorizontalPodAutoscaler": "V2HorizontalPodAutoscalerList",
    "PodDisruptionBudget": "V1PodDisruptionBudgetList",
    "Service": "V1ServiceList",
    "ConfigMap": "V1ConfigMapList",
    "EndpointSlice": "V1EndpointSliceList",
}
# Served for lookups; scenarios need not render any.
_LOOKUP_ONLY = frozenset({"Service", "ConfigMap", "EndpointSlice"})


@pytest.mark.parametrize(
    ("name", "step"),
    [("incident-day", 1), ("incident-day", 3), ("all-faults", 2), ("all-faults", 3)],
)
def test_every_kind_validates_against_the_official_client_models(name: str, step: int) -> None:
    view = at(load_scenario(name, start=FIXED_START), step)
    api_client = client.ApiClient()
    for resource in RESOURCES:
        if resource.is_metrics:
            continue
        items = objects(view, resource.collection_key)
        assert items or resource.kind in _LOOKUP_ONLY, f"{name} has no {resource.plural}"
        body = {
            "kind": resource.list_kind,
            "apiVersion": resource.group_version,
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }
        decoded = api_client.deserialize(
            json.dumps(body), _CLIENT_TYPES[resource.kind], "application/json"
        )
        assert len(decoded.items) == len(items)


def test_objects_decode_into_the_snapshot_structs(incident_day: Scenario) -> None:
    view = at(incident_day, 1)
    everything = []
    for resource in RESOURCES:
        if resource.is_metrics:
            continue
        everything += [
            {"kind": resource.kind, **obj} for obj in objects(view, resource.collection_key)
        ]
    snapshot = snapshot_from_objects(everything, cluster="sim", collected_at=view.now)
    crashing = [
        p
        for p in snapshot.pods
        if p.status.container_statuses
        and p.status.container_statuses[0].state.waiting is not None
        and p.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
    ]
    assert len(crashing) == 3
    assert crashing[0].metadata.controller_ref() is not None
    assert {c.type for c in snapshot.nodes[0].status.conditions} >= {
        "Ready",
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
    }
    assert isinstance(snapshot.events[0].last_timestamp, datetime)


def test_crash_restarts_follow_kubelet_backoff() -> None:
    assert crash_restarts(0) == (0, 0.0)
    counts = [crash_restarts(t)[0] for t in (15, 60, 300, 3600, 7200)]
    assert counts == sorted(counts)
    assert counts[0] == 1
    # After the doubling phase, one restart per ~5 minutes.
    assert 11 <= counts[3] <= 16
    assert counts[4] - counts[3] in (11, 12)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


MINIMAL = """
name: tiny
metrics: false
nodes: [{name: node-a}]
workloads:
  - {kind: Deployment, namespace: app, name: web, image: "nginx:1.27", replicas: 2}
steps:
  - name: start
  - name: broken
    changes:
      - crashloop: {workload: app/web, reason: OOMKilled, exit_code: 137}
"""


def test_a_rollout_older_than_the_progress_deadline_reports_it(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """  - name: rollout
    changes:
      - rollout: {workload: app/web, image: "nginx:9.9", pull_error: not found}
        lead_seconds: 700
"""
    )
    scenario = load_scenario(_write(tmp_path, text), start=FIXED_START)
    view = scenario.view(2, FIXED_START)
    deployment = objects(view, "deployments")[0]
    progressing = next(c for c in deployment["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    # The crash loop goes on in the old ReplicaSet (maxUnavailable of 2 is 0); the surge pod
    # of the new one cannot pull.
    reasons = sorted(waiting_reason(p) or "" for p in objects(view, "pods"))
    assert reasons == ["CrashLoopBackOff", "CrashLoopBackOff", "ImagePullBackOff"]


def test_a_scenario_file_loads_by_path_and_oomkilled_is_rendered(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, MINIMAL), start=FIXED_START)
    assert scenario.name == "tiny" and not scenario.has_metrics
    view = scenario.view(1, FIXED_START)
    pods = objects(view, "pods")
    assert len(pods) == 2
    terminated = pods[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
    assert view.collection("metrics:pods") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL.replace("replicas: 2", "replicas: 2, colour: red"), "colour"),
        (MINIMAL.replace("app/web, reason", "app/nope, reason"), "app/nope"),
        (MINIMAL.replace("name: tiny", "name: [tiny"), "invalid YAML"),
        (MINIMAL.replace("kind: Deployment", "kind: Deploymint"), "Deploymint"),
    ],
)
def test_invalid_scenarios_fail_at_load_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_scenario(_write(tmp_path, text))


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigurationError, match="incident-day"):
        load_scenario("no-such-scenario")


# --- all-faults: every change kind ------------------------------------------------------------


@pytest.fixture(scope="module")
def all_faults() -> Scenario:
    return load_scenario("all-faults", start=FIXED_START)


def _at600(scenario: Scenario, step: int) -> ClusterView:
    return scenario.view(step, FIXED_START + timedelta(seconds=600 * step))


def _app_pods(view: ClusterView, app: str) -> list[dict[str, Any]]:
    return [p for p in objects(view, "pods") if p["metadata"]["labels"].get("app") == app]


def test_oomkilled_and_failed_cronjob_run(all_faults: Scenario) -> None:
    view = _at600(all_faults, 1)
    for pod in _app_pods(view, "ingest"):
        last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
        assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    failed_jobs = [
        j
        for j in objects(view, "jobs")
        if any(c["type"] == "Failed" and c["status"] == "True" for c in j["status"]["conditions"])
    ]
    assert len(failed_jobs) == 1
    job = failed_jobs[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    failed_pods = [p for p in objects(view, "pods") if p["status"]["phase"] == "Failed"]
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in failed_pods} == {
        job["metadata"]["name"]
    }
    pod = failed_pods[0]
    logs = view.logs("data", pod["metadata"]["name"], "nightly-export")
    assert logs is not None and logs.current is not None and "password=" in logs.current
    assert any(e["reason"] == "BackoffLimitExceeded" for e in objects(view, "events"))


def test_node_outage_marks_pods_not_ready_and_new_pods_unschedulable(all_faults: Scenario) -> None:
    view = _at600(all_faults, 2)
    down = "ip-10-1-2-30.eu-west-1.compute.internal"
    node = next(n for n in objects(view, "nodes") if n["metadata"]["name"] == down)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert {t["key"] for t in node["spec"]["taints"]} == {"node.kubernetes.io/unreachable"}
    on_node = [
        p
        for p in objects(view, "pods")
        if p["spec"].get("nodeName") == down and p["status"]["phase"] == "Running"
    ]
    assert on_node and all(not p["status"]["containerStatuses"][0]["ready"] for p in on_node)
    trainers = _app_pods(view, "trainer")
    assert len(trainers) == 2
    for pod in trainers:
        assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
        assert pod["status"]["conditions"][0]["reason"] == "Unschedulable"
    assert any(e["reason"] == "FailedScheduling" for e in objects(view, "events"))
    evicted = [p for p in objects(view, "pods") if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == 2
    assert all(p["status"]["phase"] == "Failed" for p in evicted)
    assert "low on resource: memory" in evicted[0]["status"]["message"]
    assert len([p for p in _app_pods(view, "ui") if p["status"]["phase"] == "Running"]) == 2
    assert any(e["reason"] == "Evicted" for e in objects(view, "events"))


def test_scale_and_explicit_event_then_recovery(all_faults: Scenario) -> None:
    view = _at600(all_faults, 3)
    assert len(_app_pods(view, "api")) == 6
    hpa = next(
        h for h in objects(view, "horizontalpodautoscalers") if h["metadata"]["name"] == "api"
    )
    assert hpa["status"]["currentReplicas"] == 6
    event = next(e for e in objects(view, "events") if e["reason"] == "ProvisioningFailed")
    assert event["involvedObject"]["kind"] == "PersistentVolumeClaim" and event["count"] == 4
    recovered = _at600(all_faults, 4)
    pods = objects(recovered, "pods")
    assert {p["status"]["phase"] for p in pods} <= {"Running", "Succeeded"}
    assert all(
        p["status"]["containerStatuses"][0]["ready"]
        for p in pods
        if p["status"]["phase"] == "Running"
    )
    assert len(_app_pods(recovered, "api")) == 3


@pytest.mark.parametrize("name", shipped_scenarios())
def test_object_keys_are_unique_at_every_step(name: str) -> None:
    scenario = load_scenario(name, start=FIXED_START)
    for step in range(len(scenario.step_names)):
        view = scenario.view(step, FIXED_START + timedelta(hours=step))
        for resource in RESOURCES:
            items = (
                objects(view, resource.collection_key)
                if view.collection(resource.collection_key)
                else []
            )
            keys = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
            assert len(keys) == len(set(keys)), (name, step, resource.plural)
            uids = [o["metadata"]["uid"] for o in items if "uid" in o["metadata"]]
            assert len(uids) == len(set(uids)), (name, step, resource.plural)


def test_the_documented_example_loads_and_breaks_at_step_two(tmp_path: Path) -> None:
    from k8s_monitor.sim import dsl

    assert dsl.__doc__ is not None
    body = dsl.__doc__.split("\n\n", 1)[1].split("Other changes")[0]
    example = "\n".join(line[4:] for line in body.splitlines() if line.startswith("    "))
    scenario = load_scenario(_write(tmp_path, example), start=FIXED_START)
    assert list(scenario.step_names) == ["healthy", "broken", "fixed"]
    broken = scenario.view(1, FIXED_START)
    reasons = sorted(waiting_reason(p) or "" for p in objects(broken, "pods"))
    assert reasons.count("CrashLoopBackOff") == 3 and reasons.count("ImagePullBackOff") == 1
    fixed = scenario.view(2, FIXED_START)
    assert not [p for p in objects(fixed, "pods") if waiting_reason(p)]


def test_checkout_spec_carries_a_plain_env_credential_that_the_snapshot_drops(
    incident_day: Scenario,
) -> None:
    view = at(incident_day, 1)
    pod = next(p for p in objects(view, "pods") if p["metadata"]["labels"]["app"] == "checkout")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert "Chk0ut-DB-pa55w0rd" in env["DATABASE_URL"]["value"]
    assert env["STRIPE_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "stripe", "key": "api-key"}
    }
    snapshot = snapshot_from_objects([{"kind": "Pod", **pod}], cluster="sim", collected_at=view.now)
    assert "Chk0ut-DB-pa55w0rd" not in repr(snapshot)
    assert {e.name for e in snapshot.pods[0].spec.containers[0].env} >= {"DATABASE_URL"}


def test_rollback_scales_the_old_replicaset_back_without_recreating_its_pods(
    incident_day: Scenario,
) -> None:
    def api_pods(step: int) -> dict[str, str]:
        return {
            p["metadata"]["name"]: p["metadata"]["creationTimestamp"]
            for p in objects(at(incident_day, step), "pods")
            if p["metadata"]["labels"].get("app") == "payments-api"
        }

    baseline, rollout, rollback = api_pods(0), api_pods(3), api_pods(4)
    survivors = set(baseline) & set(rollout)
    assert len(survivors) == 3  # maxUnavailable 1 of 4 went away during the rollout
    assert survivors <= set(rollback)
    assert all(rollback[name] == baseline[name] for name in survivors)
    (new,) = set(rollback) - survivors
    assert rollback[new] > max(baseline.values())
