"""The resource table agrees with the RBAC the manifests grant, and builds the right paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from k8s_monitor.cluster import resources as res

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "base" / "rbac.yaml"


def _granted() -> set[tuple[str, str, str]]:
    granted: set[tuple[str, str, str]] = set()
    for doc in yaml.safe_load_all(RBAC.read_text()):
        if doc and doc.get("kind") == "ClusterRole" and doc["metadata"]["name"] == res.CLUSTER_ROLE:
            for rule in doc["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            granted.add((group, resource, verb))
    return granted


def test_every_listed_resource_is_granted_by_the_manifests() -> None:
    granted = _granted()
    missing = [r.display for r in res.RESOURCES if (r.group, r.plural, "list") not in granted]
    assert missing == []
    assert ("", "pods/log", "get") in granted
    assert not {(g, r) for g, r, _ in granted if r == "secrets"}  # never read Secrets


def test_paths() -> None:
    assert res.PODS.path() == "/api/v1/pods"
    assert res.PODS.path("shop") == "/api/v1/namespaces/shop/pods"
    assert res.NODES.path("shop") == "/api/v1/nodes"
    assert res.NODE_METRICS.path() == "/apis/metrics.k8s.io/v1beta1/nodes"
    hpa = next(r for r in res.RESOURCES if r.plural == "horizontalpodautoscalers")
    assert hpa.path("web") == "/apis/autoscaling/v2/namespaces/web/horizontalpodautoscalers"
