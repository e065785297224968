"""HorizontalPodAutoscalers (autoscaling/v2) on CPU, limited at their maximum."""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.world import WorkloadState


def hpa(ctx: RenderContext, workload: WorkloadState) -> None:
    """The workload's HPA, ScalingLimited once the replicas reach its maximum."""
    spec = workload.spec
    hpa = spec.hpa
    assert hpa is not None
    current = max(hpa.min, min(workload.replicas, hpa.max))
    at_max = current >= hpa.max
    since = ctx.at(workload.created)
    ctx.out.add(
        "horizontalpodautoscalers",
        {
            "metadata": o.object_meta(
                name=spec.name,
                namespace=spec.namespace,
                uid=o.make_uid("HPA", spec.namespace, spec.name),
                created=since,
                resource_version=ctx.next_rv(),
                managed_by="kubectl-client-side-apply",
            ),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": spec.kind,
                    "name": spec.name,
                },
                "minReplicas": hpa.min,
                "maxReplicas": hpa.max,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": hpa.cpu_percent,
                            },
                        },
                    }
                ],
            },
            "status": {
                "currentReplicas": current,
                "desiredReplicas": current,
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "current": {"averageUtilization": 35 + o.stable_int(30, spec.name)},
                        },
                    }
                ],
                "conditions": [
                    o.condition(
                        "AbleToScale",
                        "True",
                        since,
                        "ReadyForNewScale",
                        "recommended size matches current size",
                    ),
                    o.condition(
                        "ScalingActive",
                        "True",
                        since,
                        "ValidMetricFound",
                        "the HPA was able to successfully calculate a replica count from cpu "
                        "resource utilization (percentage of request)",
                    ),
                    o.condition(
                        "ScalingLimited",
                        "True" if at_max else "False",
                        since,
                        "TooManyReplicas" if at_max else "DesiredWithinRange",
                        "the desired replica count is more than the maximum replica count"
                        if at_max
                        else "the desired count is within the acceptable range",
                    ),
                ],
            },
        },
    )
