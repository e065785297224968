"""Every kind decodes to the same values the official client's models hold for the same JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec
import pytest
from kubernetes.client import ApiClient

from k8s_monitor.cluster import snapshot
from k8s_monitor.cluster.pages import PageDecodeError, decode_page, peek_continue
from tests.unit.cluster import objects as o

# (official list model, our struct, a real-shaped object)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "V1PodList",
        "Pod",
        o.pod(waiting="CrashLoopBackOff", last_reason="OOMKilled", last_exit=137, restarts=3),
    ),
    ("V1PodList", "Pod", o.pod(terminated=("Error", 2))),
    ("V1NodeList", "Node", o.node()),
    ("CoreV1EventList", "Event", o.event("e1")),
    ("V1DeploymentList", "Deployment", o.deployment()),
    ("V1ReplicaSetList", "ReplicaSet", o.replicaset()),
    ("V1StatefulSetList", "StatefulSet", o.statefulset()),
    ("V1DaemonSetList", "DaemonSet", o.daemonset()),
    ("V1JobList", "Job", o.job()),
    ("V1CronJobList", "CronJob", o.cronjob()),
    ("V1PersistentVolumeClaimList", "PersistentVolumeClaim", o.pvc()),
    ("V1PersistentVolumeList", "PersistentVolume", o.pv()),
    ("V2HorizontalPodAutoscalerList", "HorizontalPodAutoscaler", o.hpa()),
    ("V1PodDisruptionBudgetList", "PodDisruptionBudget", o.pdb()),
    ("V1ResourceQuotaList", "ResourceQuota", o.quota()),
    ("V1NamespaceList", "Namespace", o.namespace()),
    ("V1ServiceList", "Service", o.service()),
    ("V1EndpointSliceList", "EndpointSlice", o.endpointslice()),
    ("V1StorageClassList", "StorageClass", o.storageclass()),
]


def _official(list_type: str, obj: dict[str, Any]) -> Any:
    body = json.dumps({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": [obj]})
    return ApiClient().deserialize(body, list_type, "application/json").items[0]


def _ours(kind: str, obj: dict[str, Any]) -> Any:
    from k8s_monitor.cluster import snapshot

    body = json.dumps({"kind": "List", "metadata": {"continue": ""}, "items": [obj]}).encode()
    return decode_page(body, getattr(snapshot, kind)).items[0]


def _compare(ours: Any, theirs: Any, path: str, checked: list[str]) -> None:
    """Every field we keep must equal the official model's attribute of the same name."""
    if isinstance(ours, msgspec.Struct):
        for field in msgspec.structs.fields(ours):
            value = getattr(ours, field.name)
            other = getattr(theirs, field.name, None)
            _compare(value, other, f"{path}.{field.name}", checked)
        return
    checked.append(path)
    if theirs is None:  # absent upstream: ours must hold the empty default
        assert ours in ("", 0, False, None, (), [], {}), path
    elif isinstance(ours, tuple | list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _compare(a, b, f"{path}[{i}]", checked)
    elif isinstance(ours, dict) and not isinstance(theirs, dict):
        # A model we keep as raw JSON (env valueFrom, resources): compare serialized forms.
        assert ours == ApiClient().sanitize_for_serialization(theirs), path
    elif isinstance(ours, datetime):
        assert ours == theirs, path
    else:
        assert ours == theirs, path


@pytest.mark.parametrize(
    ("list_type", "kind", "obj"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_fields_match_the_official_models(list_type: str, kind: str, obj: dict[str, Any]) -> None:
    checked: list[str] = []
    _compare(_ours(kind, obj), _official(list_type, obj), kind, checked)
    assert len(checked) >= 5


def test_values_are_really_populated() -> None:
    """Guards the comparison above against both sides being empty."""
    pod = _ours(
        "Pod", o.pod(waiting="CrashLoopBackOff", last_reason="OOMKilled", last_exit=137, restarts=3)
    )
    status = pod.status.container_statuses[0]
    assert (status.restart_count, status.state.waiting.reason) == (3, "CrashLoopBackOff")
    assert status.last_state.terminated.exit_code == 137
    assert pod.metadata.controller_ref().name == "api-7d9f8b6c5d"
    assert pod.spec.containers[0].env[1].value_from == {"secretKeyRef": {"name": "api", "key": "k"}}
    assert not hasattr(pod.spec.containers[0].env[0], "value")
    event = _ours("Event", o.event("e1"))
    assert event.seen_at is not None and event.seen_at.microsecond == 123456
    assert _ours("PodDisruptionBudget", o.pdb()).spec.min_available == "50%"
    slice_ = _ours("EndpointSlice", o.endpointslice())
    assert [e.conditions.ready for e in slice_.endpoints] == [True, False]
    assert slice_.endpoints[0].target_ref.name == "api-1"
    assert _ours("Service", o.service()).spec.selector == {"app": "api"}
    assert _ours("StorageClass", o.storageclass()).volume_binding_mode == "WaitForFirstConsumer"
    cron = _ours("CronJob", o.cronjob())
    assert (cron.spec.time_zone, cron.spec.concurrency_policy) == ("Europe/Berlin", "Forbid")


def test_metrics_decode() -> None:
    node = _ours("NodeMetrics", o.node_metrics())
    pod = _ours("PodMetrics", o.pod_metrics())
    assert node.usage == {"cpu": "1200m", "memory": "9Gi"}
    assert pod.containers[0].usage["memory"] == "200Mi"


def test_peek_continue_reads_the_head_or_falls_back() -> None:
    assert peek_continue(
        b'{"kind":"PodList","metadata":{"continue":"eyJ4IjoxfQ=="},"items":[]}'
    ) == ("eyJ4IjoxfQ==")
    assert peek_continue(b'{"metadata":{"resourceVersion":"1"},"items":[{"a":1}]}') == ""
    items_first = b'{"items":[{"metadata":{"continue":"no"}}],"metadata":{"continue":"yes"}}'
    assert peek_continue(items_first) == "yes"
    assert peek_continue(b"not json") is None


def test_one_bad_object_is_skipped_not_the_page() -> None:
    bad = o.pod("bad")
    bad["status"]["containerStatuses"][0]["restartCount"] = "many"
    nully = o.pod("nully")
    nully["metadata"]["labels"] = None
    body = json.dumps({"metadata": {"continue": "t"}, "items": [o.pod("a"), bad, nully]}).encode()
    page = decode_page(body, snapshot.Pod)
    assert [p.metadata.name for p in page.items] == ["a", "nully"]
    assert page.skipped == 1 and page.metadata.continue_ == "t"


def test_not_a_list_is_an_error() -> None:
    with pytest.raises(PageDecodeError):
        decode_page(b'{"items": {"not": "a list"}}', snapshot.Pod)
    with pytest.raises(PageDecodeError):
        decode_page(b"<html>", snapshot.Pod)
