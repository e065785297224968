"""The coordinator: renders every kind of one world moment in a fixed order into a view.

The order is part of the output (resource versions are handed out as objects are written) and
some kinds read what came before: Services, PodDisruptionBudgets and metrics select among the
pods already rendered.
"""

from __future__ import annotations

from datetime import datetime

from k8s_monitor.sim.dsl import ScenarioIn
from k8s_monitor.sim.render import (
    autoscaling,
    daemonsets,
    deployments,
    events,
    jobs,
    metrics,
    namespaces,
    network,
    nodes,
    policy,
    statefulsets,
    storage,
)
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.view import ListCollection, StaticView
from k8s_monitor.sim.world import WorkloadState, World

# Served whether or not the scenario has objects of that kind (an empty list, as a real cluster).
RESOURCES_ALWAYS = (
    "namespaces",
    "nodes",
    "pods",
    "events",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "persistentvolumeclaims",
    "persistentvolumes",
    "resourcequotas",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "services",
    "configmaps",
    "endpointslices",
    "storageclasses",
)
METRICS_RESOURCES = ("metrics:nodes", "metrics:pods")


class Renderer:
    """Turns a scenario ``World`` into the API objects a real cluster would show at ``now``."""

    def __init__(
        self, spec: ScenarioIn, world: World, now_offset: float, now: datetime, rv: int
    ) -> None:
        self.ctx = RenderContext(spec, world, now_offset, now, rv)

    def render(self) -> StaticView:
        ctx = self.ctx
        namespaces.namespaces(ctx)
        for node in ctx.world.nodes.values():
            nodes.node(ctx, node)
        for workload in ctx.world.workloads.values():
            _workload(ctx, workload)
        network.services(ctx)
        storage.storage_classes(ctx)
        events.timeline_events(ctx)
        namespaces.quotas(ctx)
        served: tuple[str, ...] = RESOURCES_ALWAYS
        if ctx.spec.metrics:
            metrics.usage(ctx)
            served += METRICS_RESOURCES
        view = StaticView(resource_version=ctx.rv, now=ctx.now)
        for resource in served:
            view.collections[resource] = ListCollection(ctx.out.objects.get(resource, []))
        view.container_logs = ctx.out.logs
        return view


def _workload(ctx: RenderContext, workload: WorkloadState) -> None:
    """The workload's controller objects and pods, then its autoscaler and disruption budget."""
    kind = workload.spec.kind
    if kind == "Deployment":
        deployments.deployment(ctx, workload)
    elif kind == "StatefulSet":
        statefulsets.statefulset(ctx, workload)
    elif kind == "DaemonSet":
        daemonsets.daemonset(ctx, workload)
    elif kind == "CronJob":
        jobs.cronjob(ctx, workload)
    else:
        jobs.job(
            ctx, workload, None, workload.spec.name, ctx.at(workload.created), workload.created
        )
    if workload.spec.hpa is not None:
        autoscaling.hpa(ctx, workload)
    if workload.spec.pdb_min_available is not None:
        policy.pdb(ctx, workload)
