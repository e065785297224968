"""Namespaces (the system ones and every namespace the scenario uses) and ResourceQuotas."""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.world import DAY

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


def namespaces(ctx: RenderContext) -> None:
    """The system namespaces, the scenario's and every workload's, sorted."""
    names = set(SYSTEM_NAMESPACES) | set(ctx.spec.namespaces)
    names |= {w.spec.namespace for w in ctx.world.workloads.values()}
    for name in sorted(names):
        ctx.out.add(
            "namespaces",
            {
                "metadata": o.object_meta(
                    name=name,
                    namespace=None,
                    uid=o.make_uid("Namespace", name),
                    created=ctx.at(-40 * DAY),
                    resource_version=ctx.next_rv(),
                    labels={"kubernetes.io/metadata.name": name},
                    managed_by="kubectl-create",
                ),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )


def quotas(ctx: RenderContext) -> None:
    """The scenario's ResourceQuotas, their usage as the scenario states it."""
    for quota in ctx.spec.quotas:
        ctx.out.add(
            "resourcequotas",
            {
                "metadata": o.object_meta(
                    name=quota.name,
                    namespace=quota.namespace,
                    uid=o.make_uid("ResourceQuota", quota.namespace, quota.name),
                    created=ctx.at(-20 * DAY),
                    resource_version=ctx.next_rv(),
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {"hard": quota.hard},
                "status": {"hard": quota.hard, "used": quota.used},
            },
        )
