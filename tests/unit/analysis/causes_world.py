"""Cluster objects for cause-graph tests: nodes, Deployments with their ReplicaSets and pods."""

from __future__ import annotations

from typing import Any

from tests.unit.analysis.helpers import pod, running, ts, waiting


def deployment(
    name: str, namespace: str = "shop", *, replicas: int = 4, available: int = 0
) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ts("06:00")},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "replicas": replicas,
            "availableReplicas": available,
            "readyReplicas": available,
            "updatedReplicas": replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "lastTransitionTime": ts("09:00"),
                }
            ],
        },
    }


def replicaset(
    deploy: str, template_hash: str, namespace: str = "shop", *, revision: int = 1, created: str
) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{deploy}-{template_hash}",
            "namespace": namespace,
            "creationTimestamp": ts(created),
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": deploy, "controller": True}],
        },
        "spec": {"replicas": 1},
    }


def workload_pod(
    deploy: str,
    index: int,
    *,
    template_hash: str = "abc",
    namespace: str = "shop",
    node_name: str = "node-1",
    ready: bool = False,
    containers: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    body = pod(
        f"{deploy}-{template_hash}-{index:02d}",
        namespace,
        owner=("ReplicaSet", f"{deploy}-{template_hash}"),
        labels={"app": deploy, "pod-template-hash": template_hash},
        ready=ready,
        ready_since="09:00",
        node=node_name,
        phase=phase,
        containers=containers if containers is not None else [running(ready=ready)],
    )
    if volumes:
        body["spec"]["volumes"] = volumes
    return body


def config_error(message: str) -> list[dict[str, Any]]:
    return [waiting("CreateContainerConfigError", message=message)]
