"""Builders for analysis tests: objects in the Kubernetes JSON shape, decoded like a dump."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot, snapshot_from_objects

NOW = datetime(2024, 5, 14, 10, 0, tzinfo=UTC)


def ts(text: str) -> str:
    """``"09:58"`` -> an RFC 3339 time on the day of NOW."""
    return f"2024-05-14T{text}:00Z" if len(text) == 5 else text


def pod(
    name: str,
    namespace: str = "shop",
    *,
    owner: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    ready: bool = True,
    ready_since: str = "08:00",
    created: str = "08:00",
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    node: str = "node-1",
    **status: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels or {},
        "creationTimestamp": ts(created),
    }
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    body: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": ts(ready_since),
            }
        ],
        "containerStatuses": containers if containers is not None else [running()],
        **status,
    }
    if init is not None:
        body["initContainerStatuses"] = init
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "app"}]},
        "status": body,
    }


def node(
    name: str = "node-1",
    *,
    ready: str = "True",
    since: str = "08:00",
    zone: str = "a",
    pods: str = "58",
    taints: tuple[dict[str, str], ...] = (),
    **spec: Any,
) -> dict[str, Any]:
    """A node, Ready (or not) since ``since``; ``taints`` and ``spec`` fill its spec."""
    healthy = ready == "True"
    return {
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"topology.kubernetes.io/zone": f"us-east-1{zone}"},
            "creationTimestamp": ts("06:00"),
        },
        "spec": {**({"taints": list(taints)} if taints else {}), **spec},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "NodeStatusUnknown" if ready == "Unknown" else "KubeletReady",
                    "message": "" if healthy else "Kubelet stopped posting node status.",
                    "lastTransitionTime": ts(since),
                    "lastHeartbeatTime": ts(since),
                },
                {"type": "MemoryPressure", "status": "False", "lastTransitionTime": ts(since)},
            ],
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": pods},
        },
    }


def running(
    name: str = "app", restarts: int = 0, last: dict[str, Any] | None = None, ready: bool = True
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts("08:00")}},
    }
    if last:
        status["lastState"] = {"terminated": last}
    return status


def waiting(
    reason: str,
    name: str = "app",
    restarts: int = 0,
    last: dict[str, Any] | None = None,
    message: str = "",
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
    }
    if last:
        status["lastState"] = {"terminated": last}
    return status


def terminated(code: int, reason: str, finished: str = "09:58") -> dict[str, Any]:
    return {"exitCode": code, "reason": reason, "finishedAt": ts(finished)}


def snapshot(*objects: dict[str, Any], **extra: Any) -> ClusterSnapshot:
    snap = snapshot_from_objects(list(objects), cluster="test", collected_at=NOW)
    for name, value in extra.items():
        setattr(snap, name, value)
    return snap


def run(
    *objects: dict[str, Any], now: datetime = NOW, catalog: ServiceCatalog | None = None
) -> list[Finding]:
    return analyze(snapshot(*objects), now=now, catalog=catalog)


def reasons(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.subject.kind, f.subject.name, f.reason) for f in findings}
