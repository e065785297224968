"""A simulated cluster for lookup tests: a scenario plus Services, EndpointSlices and ConfigMaps.

Scenarios render workloads, nodes and events; the objects lookups read beyond collection are
added here as raw API JSON, the way a real apiserver would serve them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from k8s_monitor.sim import Scenario, SimServer, load_scenario
from k8s_monitor.sim.view import ListCollection, StaticView

JSON = dict[str, Any]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SCENARIO = """
name: lookup-world
description: A rollout that breaks checkout, a crash-looping worker, two nodes.
clock: {step_seconds: 900}
metrics: false
namespaces: [shop]
nodes:
  - {name: node-a, zone: us-east-1a}
  - {name: node-b, zone: us-east-1b}
workloads:
  - kind: Deployment
    namespace: shop
    name: checkout
    image: "example.com/shop/checkout:1.0"
    replicas: 2
    env: {DB_PASSWORD: "hunter2-plain-value", LOG_LEVEL: info}
    secret_env: {API_TOKEN: "checkout-secrets/token"}
  - {kind: Deployment, namespace: shop, name: worker, image: "example.com/shop/worker:1.0"}
steps:
  - name: healthy
  - name: rollout
    changes:
      - rollout: {workload: shop/checkout, image: "example.com/shop/checkout:2.0"}
      - crashloop:
          workload: shop/worker
          exit_code: 1
          log: "{time} ERROR connecting with password=sw0rdfish failed\\n{time} FATAL exiting"
"""


def _meta(name: str, namespace: str = "shop", **extra: Any) -> JSON:
    return {"name": name, "namespace": namespace, "uid": f"uid-{name}", **extra}


def extra_objects() -> dict[str, list[JSON]]:
    return {
        "services": [
            {
                "metadata": _meta("checkout"),
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app": "checkout"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            },
            {
                "metadata": _meta("ghost"),
                "spec": {"selector": {"app": "ghost"}, "ports": [{"port": 80}]},
            },
        ],
        "endpointslices": [
            {
                "metadata": _meta(
                    "checkout-abcde", labels={"kubernetes.io/service-name": "checkout"}
                ),
                "addressType": "IPv4",
                "endpoints": [
                    {
                        "addresses": ["10.0.0.1"],
                        "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "checkout-1"},
                        "nodeName": "node-a",
                    },
                    {
                        "addresses": ["10.0.0.2"],
                        "conditions": {"ready": False},
                        "targetRef": {"kind": "Pod", "name": "checkout-2"},
                    },
                ],
            }
        ],
        "configmaps": [
            {
                "metadata": _meta("checkout-config"),
                "data": {"app.yaml": "db_password: s3cr3t-config-value", "feature": "on"},
                "binaryData": {"cert.der": "AAEC"},
            }
        ],
    }


class LookupWorld:
    """A ``ClusterSource``: the scenario's views with the extra objects added."""

    def __init__(self, scenario: Scenario, extra: dict[str, list[JSON]]) -> None:
        self._scenario = scenario
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scenario, name)

    @property
    def step_names(self) -> Sequence[str]:
        return self._scenario.step_names

    def view(self, step: int, now: datetime) -> StaticView:
        view = self._scenario.view(step, now)
        for resource, objects in self._extra.items():
            view.collections[resource] = ListCollection(list(objects))
        return view


def lookup_world(tmp: Path) -> LookupWorld:
    path = tmp / "lookup-world.yaml"
    path.write_text(SCENARIO)
    return LookupWorld(load_scenario(path, start=START), extra_objects())


def worker_pod(sim: SimServer) -> str:
    """The name of the crash-looping worker pod the simulator generated."""
    pods = sim.view().collection("pods")
    assert pods is not None
    return next(
        p["metadata"]["name"]
        for p in pods.items(0, len(pods))
        if p["metadata"]["name"].startswith("worker-")
    )
