"""The pod template a workload's controller stamps its pods from, and its selector labels."""

from __future__ import annotations

from typing import Any

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.dsl import WorkloadIn

JSON = dict[str, Any]


def workload_labels(spec: WorkloadIn) -> dict[str, str]:
    return {"app": spec.name, **spec.labels}


def pod_template(spec: WorkloadIn, labels: dict[str, str], image: str) -> JSON:
    return {
        "metadata": {"labels": labels},
        "spec": o.pod_spec(
            [
                o.container_spec(
                    spec.name,
                    image,
                    port=spec.port,
                    cpu=spec.cpu,
                    memory=spec.memory,
                    env=spec.env,
                    secret_env=spec.secret_env,
                )
            ],
            None,
            spec.service_account,
        ),
    }
