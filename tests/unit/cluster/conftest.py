"""Fixtures: a populated fake apiserver and collectors pointed at it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.config import Settings
from k8s_monitor.redaction import Redactor
from tests.unit.cluster import objects as o
from tests.unit.cluster.fake_api import FakeApi, FakeState, serve

CORE = "/api/v1"


def populated_state() -> FakeState:
    state = FakeState()
    state.lists = {
        f"{CORE}/pods": [
            o.pod(),
            o.pod(
                "web-1",
                "web",
                waiting="CrashLoopBackOff",
                last_reason="Error",
                last_exit=1,
                restarts=5,
                owner="web-abc",
            ),
            o.pod(
                "mem-1", "web", last_reason="OOMKilled", last_exit=137, restarts=2, owner="mem-x"
            ),
        ],
        f"{CORE}/nodes": [o.node(), o.node("node-2", "Unknown")],
        f"{CORE}/events": [
            o.event("e1"),
            o.event("e2", type_="Normal"),
            o.event("e3", last="2026-11-23T20:00:00Z"),
            o.event("e4", "web", message="auth failed token=abc123def456 for user"),
        ],
        f"{CORE}/namespaces": [
            o.namespace("default"),
            o.namespace("web"),
            o.namespace("kube-system"),
        ],
        "/apis/apps/v1/deployments": [o.deployment()],
        "/apis/apps/v1/replicasets": [o.replicaset()],
        "/apis/apps/v1/statefulsets": [o.statefulset()],
        "/apis/apps/v1/daemonsets": [o.daemonset()],
        "/apis/batch/v1/jobs": [o.job()],
        "/apis/batch/v1/cronjobs": [o.cronjob()],
        f"{CORE}/persistentvolumeclaims": [o.pvc()],
        f"{CORE}/persistentvolumes": [o.pv()],
        "/apis/autoscaling/v2/horizontalpodautoscalers": [o.hpa()],
        "/apis/policy/v1/poddisruptionbudgets": [o.pdb()],
        f"{CORE}/resourcequotas": [o.quota()],
        f"{CORE}/services": [o.service()],
        "/apis/discovery.k8s.io/v1/endpointslices": [o.endpointslice()],
        "/apis/storage.k8s.io/v1/storageclasses": [o.storageclass()],
    }
    state.logs = {
        ("web", "web-1", "api", True): "".join(f"line {i}\n" for i in range(200))
        + "fatal: cannot connect postgres://app:Pg5ecr3tPw@db:5432/x\n",
        ("web", "mem-1", "api", True): "allocating\nkilled\n",
    }
    return state


@pytest.fixture
def state() -> FakeState:
    return populated_state()


@pytest.fixture
def api(state: FakeState) -> Iterator[FakeApi]:
    with serve(state) as fake:
        yield fake


MakeCollector = Callable[..., Collector]


@pytest.fixture
def make_collector(api: FakeApi, tmp_path: Path) -> Iterator[MakeCollector]:
    made: list[Collector] = []

    def make(**overrides: Any) -> Collector:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        settings = Settings(kubeconfig=kubeconfig, collect_timeout_seconds=5, _env_file=None)
        options = dataclasses.replace(CollectOptions.from_settings(settings), **overrides)
        collector = Collector(load_api_client(settings), options, Redactor(), cluster_name="test")
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()
