"""Interning: values stay equal, equal values become one object, unique values stay apart."""

from __future__ import annotations

import json

import msgspec

from k8s_monitor.cluster.compact import Interner
from k8s_monitor.cluster.pages import decode_page
from k8s_monitor.cluster.snapshot import Deployment, Pod
from tests.unit.cluster import objects as o


def _pods(n: int) -> list[Pod]:
    body = json.dumps({"items": [o.pod(f"api-{i}") for i in range(n)]}).encode()
    return decode_page(body, Pod).items


def test_values_unchanged_and_shared() -> None:
    pods, reference = _pods(3), _pods(3)
    interner = Interner()
    for pod in pods:
        interner.compact(pod)
    assert [msgspec.json.encode(p) for p in pods] == [msgspec.json.encode(p) for p in reference]
    a, b = pods[0], pods[1]
    assert a.metadata.namespace is b.metadata.namespace
    assert a.status.conditions[0].status is b.status.conditions[0].status
    assert a.metadata.creation_timestamp is b.metadata.creation_timestamp
    assert a.spec.containers[0].resources is b.spec.containers[0].resources
    assert a.metadata.labels is b.metadata.labels
    assert a.metadata.name is not b.metadata.name  # unique values are left alone


def test_other_kinds_share_meta_and_conditions() -> None:
    body = json.dumps({"items": [o.deployment("a"), o.deployment("b")]}).encode()
    first, second = decode_page(body, Deployment).items
    interner = Interner()
    interner.compact(first)
    interner.compact(second)
    assert first.status.conditions[0].reason is second.status.conditions[0].reason
    assert first.metadata.namespace is second.metadata.namespace
