"""The pod template a workload's controller stamps its pods from, and its selector labels."""

from __future__ import annotations

from typing import Any

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.dsl import WorkloadIn
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.world import WorkloadState

JSON = dict[str, Any]


def workload_labels(spec: WorkloadIn) -> dict[str, str]:
    return {"app": spec.name, **spec.labels}


def applied_meta(
    ctx: RenderContext,
    workload: WorkloadState,
    uid: str,
    labels: dict[str, str],
    *,
    generation: int,
    annotations: dict[str, str] | None = None,
) -> JSON:
    """The metadata of a workload as ``kubectl apply`` created it (one resource version)."""
    spec = workload.spec
    return o.object_meta(
        name=spec.name,
        namespace=spec.namespace,
        uid=uid,
        created=ctx.at(workload.created),
        resource_version=ctx.next_rv(),
        labels=labels,
        annotations=annotations,
        generation=generation,
        managed_by="kubectl-client-side-apply",
    )


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
