"""The failure modes the root-cause scenarios add, rendered as a real cluster shows them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from k8s_monitor.errors import ConfigurationError
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.sim.view import ClusterView
from tests.unit.sim.conftest import FIXED_START, http

BASE = """
name: causes
metrics: false
nodes: [{name: node-a, zone: us-east-1a}, {name: node-b, zone: us-east-1b}]
workloads:
  - {kind: Deployment, namespace: app, name: web, image: "web:1", replicas: 4}
  - {kind: StatefulSet, namespace: app, name: db, image: "db:1", replicas: 0, volume: 8Gi,
     storage_class: fast-ssd}
steps:
  - name: start
  - name: broken
    changes:
"""


def _view(tmp_path: Path, changes: str, step: int = 1) -> ClusterView:
    path = tmp_path / "scenario.yaml"
    path.write_text(BASE + changes)
    scenario = load_scenario(path, start=FIXED_START)
    return scenario.view(step, FIXED_START + timedelta(seconds=900 * step))


def items(view: ClusterView, resource: str) -> list[dict[str, Any]]:
    collection = view.collection(resource)
    assert collection is not None
    return list(collection.items(0, len(collection)))


def _waiting(pod: dict[str, Any]) -> str | None:
    return pod["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")


def test_config_error_rollout_keeps_old_pods_and_waits_in_config_error(tmp_path: Path) -> None:
    view = _view(
        tmp_path,
        '      - rollout: {workload: app/web, image: "web:2", config_error: '
        '"couldn\'t find key DB_HOST in ConfigMap app/web-config"}\n',
    )
    pods = items(view, "pods")
    stuck = [p for p in pods if _waiting(p) == "CreateContainerConfigError"]
    assert stuck and all(p["status"]["phase"] == "Pending" for p in stuck)
    assert "DB_HOST" in stuck[0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert any(p["status"]["phase"] == "Running" for p in pods)  # the old ReplicaSet serves
    failed = [e for e in items(view, "events") if e["reason"] == "Failed"]
    assert failed and failed[0]["message"].startswith("Error: couldn't find key DB_HOST")


def test_create_error_rollout_refuses_the_new_replicaset(tmp_path: Path) -> None:
    refusal = 'pods \\"web-x\\" is forbidden: exceeded quota: compute, requested: pods=1'
    view = _view(
        tmp_path,
        f'      - rollout: {{workload: app/web, image: "web:2", create_error: "{refusal}"}}\n',
    )
    assert len(items(view, "pods")) == 4  # no new pod exists: each was refused
    replicasets = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r
                   for r in items(view, "replicasets")}  # fmt: skip
    assert replicasets["2"]["spec"]["replicas"] >= 1 and replicasets["2"]["status"]["replicas"] == 0
    assert replicasets["1"]["status"]["readyReplicas"] == 4
    (deploy,) = items(view, "deployments")
    failure = next(c for c in deploy["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    event = next(e for e in items(view, "events") if e["reason"] == "FailedCreate")
    assert event["involvedObject"]["kind"] == "ReplicaSet"
    assert event["message"].startswith("Error creating: pods")


def test_sandbox_error_keeps_pods_in_container_creating(tmp_path: Path) -> None:
    view = _view(tmp_path, "      - sandbox_error: {workload: app/web}\n")
    pods = items(view, "pods")
    assert {_waiting(p) for p in pods} == {"ContainerCreating"}
    assert all(p["spec"].get("nodeName") for p in pods) and not any(
        "podIP" in p["status"] for p in pods
    )
    events = [e for e in items(view, "events") if e["reason"] == "FailedCreatePodSandBox"]
    assert len(events) == 4 and "failed to assign an IP address" in events[0]["message"]
    assert "{sandbox}" not in events[0]["message"]
    (slice_,) = [
        s for s in items(view, "endpointslices") if s["metadata"]["name"].startswith("web-")
    ]
    assert slice_["endpoints"] is None  # no pod has an address yet


def test_cordon_marks_the_node_and_dates_its_taint(tmp_path: Path) -> None:
    view = _view(tmp_path, "      - cordon: {node: node-a}\n        lead_seconds: 120\n")
    node = next(n for n in items(view, "nodes") if n["metadata"]["name"] == "node-a")
    assert node["spec"]["unschedulable"] is True
    (taint,) = node["spec"]["taints"]
    assert taint["key"] == "node.kubernetes.io/unschedulable" and "timeAdded" in taint


def test_services_and_slices_follow_pod_readiness_and_selector_changes(tmp_path: Path) -> None:
    healthy = _view(tmp_path, "      - cordon: {node: node-b}\n", step=0)
    (service,) = [s for s in items(healthy, "services") if s["metadata"]["name"] == "web"]
    assert service["spec"]["selector"] == {"app": "web"}
    (slice_,) = [
        s for s in items(healthy, "endpointslices") if s["metadata"]["name"].startswith("web-")
    ]
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert [e["conditions"]["ready"] for e in slice_["endpoints"]] == [True] * 4
    changed = _view(
        tmp_path, "      - service_selector: {workload: app/web, selector: {app: web-v2}}\n"
    )
    (service,) = [s for s in items(changed, "services") if s["metadata"]["name"] == "web"]
    assert service["spec"]["selector"] == {"app": "web-v2"}
    (slice_,) = [
        s for s in items(changed, "endpointslices") if s["metadata"]["name"].startswith("web-")
    ]
    assert slice_["endpoints"] is None


def test_missing_storage_class_leaves_claims_and_pods_pending(tmp_path: Path) -> None:
    view = _view(tmp_path, "      - scale: {workload: app/db, replicas: 2}\n")
    claims = items(view, "persistentvolumeclaims")
    assert [c["status"]["phase"] for c in claims] == ["Pending", "Pending"]
    assert {c["spec"]["storageClassName"] for c in claims} == {"fast-ssd"}
    assert not [
        v for v in items(view, "persistentvolumes") if "db" in v["spec"]["claimRef"]["name"]
    ]
    pods = [p for p in items(view, "pods") if p["metadata"]["name"].startswith("db-")]
    assert [p["status"]["phase"] for p in pods] == ["Pending", "Pending"]
    assert (
        "unbound immediate PersistentVolumeClaims" in pods[0]["status"]["conditions"][0]["message"]
    )
    failed = [e for e in items(view, "events") if e["reason"] == "ProvisioningFailed"]
    assert failed and failed[0]["message"] == 'storageclass.storage.k8s.io "fast-ssd" not found'
    assert {c["metadata"]["name"] for c in items(view, "storageclasses")} == {"gp2", "gp3"}


def test_pending_pods_carry_the_autoscalers_refusal(tmp_path: Path) -> None:
    view = _view(
        tmp_path,
        "      - pending: {workload: app/web, autoscaler: cluster-autoscaler}\n",
    )
    refusals = [e for e in items(view, "events") if e["reason"] == "NotTriggerScaleUp"]
    assert len(refusals) == 4
    assert refusals[0]["type"] == "Normal"  # as the cluster autoscaler records it
    assert refusals[0]["message"] == "pod didn't trigger scale-up: 2 max node group size reached"
    assert refusals[0]["source"]["component"] == "cluster-autoscaler"


def test_a_service_selector_for_a_workload_without_a_port_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("replicas: 4}", "replicas: 4, port: null}")
    path = tmp_path / "scenario.yaml"
    path.write_text(text + "      - service_selector: {workload: app/web, selector: {a: b}}\n")
    with pytest.raises(ConfigurationError, match="has no Service"):
        load_scenario(path)


def test_new_kinds_are_served_on_their_rest_paths(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(BASE + "      - cordon: {node: node-a}\n")
    with SimServer(load_scenario(path, start=FIXED_START)) as sim:
        services = http(sim, "/api/v1/namespaces/app/services").json()
        slices = http(sim, "/apis/discovery.k8s.io/v1/endpointslices?limit=1").json()
        classes = http(sim, "/apis/storage.k8s.io/v1/storageclasses").json()
        by_name = http(sim, "/apis/storage.k8s.io/v1/storageclasses/gp3")
        discovery = http(sim, "/apis").json()
        assert sim.internal_errors == 0
    assert services["kind"] == "ServiceList" and [
        s["metadata"]["name"] for s in services["items"]
    ] == ["db", "web"]
    assert slices["kind"] == "EndpointSliceList" and len(slices["items"]) == 1
    assert slices["metadata"].get("continue")  # paged like every other list
    assert [c["metadata"]["name"] for c in classes["items"]] == ["gp2", "gp3"]
    assert by_name.status == 200 and by_name.json()["provisioner"] == "ebs.csi.aws.com"
    groups = {g["name"] for g in discovery["groups"]}
    assert {"discovery.k8s.io", "storage.k8s.io"} <= groups


def test_attach_error_names_the_claims_volume(tmp_path: Path) -> None:
    text = BASE.replace(
        "replicas: 0, volume: 8Gi,\n     storage_class: fast-ssd}", "replicas: 1, volume: 8Gi}"
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(text + "      - attach_error: {workload: app/db}\n")
    scenario = load_scenario(path, start=FIXED_START)
    view = scenario.view(1, FIXED_START + timedelta(seconds=900))
    (pod,) = [p for p in items(view, "pods") if p["metadata"]["name"] == "db-0"]
    assert _waiting(pod) == "ContainerCreating" and pod["spec"]["nodeName"]
    (claim,) = items(view, "persistentvolumeclaims")
    (event,) = [e for e in items(view, "events") if e["reason"] == "FailedAttachVolume"]
    assert f'for volume "{claim["spec"]["volumeName"]}"' in event["message"]
    assert event["source"]["component"] == "attachdetach-controller"
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "      - attach_error: {workload: app/web}\n")
    with pytest.raises(ConfigurationError, match="StatefulSet with a volume"):
        load_scenario(bad)


def test_cronjob_refused_stops_new_runs_and_records_failed_create(tmp_path: Path) -> None:
    text = BASE.replace(
        "workloads:\n",
        'workloads:\n  - {kind: CronJob, namespace: app, name: sync, image: "s:1",'
        ' schedule: "*/5 * * * *", port: null}\n',
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(
        text + "      - cronjob_refused: {workload: app/sync}\n        lead_seconds: 1200\n"
    )
    scenario = load_scenario(path, start=FIXED_START)
    now = FIXED_START + timedelta(seconds=900)
    view = scenario.view(1, now)
    (cron,) = items(view, "cronjobs")
    last = cron["status"]["lastScheduleTime"]
    assert last <= (now - timedelta(seconds=1200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not [j for j in items(view, "jobs") if j["metadata"]["creationTimestamp"] > last]
    (event,) = [e for e in items(view, "events") if e["reason"] == "FailedCreate"]
    assert event["involvedObject"]["kind"] == "CronJob" and event["count"] >= 3
    assert "exceeded quota: job-quota" in event["message"]
    with pytest.raises(ConfigurationError, match="needs a CronJob"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(BASE + "      - cronjob_refused: {workload: app/web}\n")
        load_scenario(bad)
