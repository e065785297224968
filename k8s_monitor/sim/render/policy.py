"""PodDisruptionBudgets (policy/v1), counted against the pods already rendered."""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.render.templates import workload_labels
from k8s_monitor.sim.world import WorkloadState


def pdb(ctx: RenderContext, workload: WorkloadState) -> None:
    """The workload's PDB, its healthy count taken from the pods rendered so far."""
    spec = workload.spec
    minimum = spec.pdb_min_available or 0
    healthy = sum(
        1
        for pod in ctx.out.objects.get("pods", [])
        if pod["metadata"].get("namespace") == spec.namespace
        and pod["metadata"].get("labels", {}).get("app") == spec.name
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in pod["status"].get("conditions", [])
        )
    )
    expected = workload.replicas
    ctx.out.add(
        "poddisruptionbudgets",
        {
            "metadata": o.object_meta(
                name=spec.name,
                namespace=spec.namespace,
                uid=o.make_uid("PDB", spec.namespace, spec.name),
                created=ctx.at(workload.created),
                resource_version=ctx.next_rv(),
                generation=1,
                managed_by="kubectl-client-side-apply",
            ),
            "spec": {"minAvailable": minimum, "selector": {"matchLabels": workload_labels(spec)}},
            "status": {
                "observedGeneration": 1,
                "disruptionsAllowed": max(0, healthy - minimum),
                "currentHealthy": healthy,
                "desiredHealthy": minimum,
                "expectedPods": expected,
                "conditions": [
                    o.condition(
                        "DisruptionAllowed",
                        "True" if healthy > minimum else "False",
                        ctx.at(workload.created),
                        "SufficientPods" if healthy > minimum else "InsufficientPods",
                        "",
                    )
                    | {"message": "", "observedGeneration": 1}
                ],
            },
        },
    )
