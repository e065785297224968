"""DaemonSets: one pod per node, a rolling update one node at a time."""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.pod_plan import FAULTED_STATES, PodPlan, pod_state
from k8s_monitor.sim.render.pods import emit_pod
from k8s_monitor.sim.render.templates import applied_meta, pod_template, workload_labels
from k8s_monitor.sim.world import WorkloadState


def daemonset(ctx: RenderContext, workload: WorkloadState) -> None:
    """One pod per node (the first node gets a broken revision first), then the DaemonSet."""
    spec = workload.spec
    labels = workload_labels(spec)
    uid = o.make_uid("DaemonSet", spec.namespace, spec.name)
    current = workload.current
    good = workload.last_good() or current
    ready = 0
    nodes = ctx.all_nodes
    for index, node in enumerate(nodes):
        on_current = not current.broken or index == 0
        revision = current if on_current else good
        key = revision.template_key
        state, since = pod_state(workload, revision)
        created = max(revision.since, workload.created, ctx.world.nodes[node].created + 60)
        pod = PodPlan(
            workload=workload,
            name=f"{spec.name}-{o.name_suffix(5, spec.namespace, spec.name, node, key)}",
            owner=o.owner_ref("apps/v1", "DaemonSet", spec.name, uid),
            labels={
                **labels,
                "controller-revision-hash": o.name_suffix(
                    10, spec.namespace, spec.name, revision.template_key
                ),
                "pod-template-generation": str(revision.number),
            },
            image=revision.image,
            created=created,
            node=node,
            state=state,
            since=max(since, created),
            fault=workload.fault if state in FAULTED_STATES else None,
            pull_error=revision.pull_error,
        )
        if emit_pod(ctx, pod):
            ready += 1
    desired = len(nodes)
    status: JSON = {
        "currentNumberScheduled": desired,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": desired,
        "numberReady": ready,
        "observedGeneration": current.number,
        "updatedNumberScheduled": 1 if current.broken else desired,
        "numberAvailable": ready,
    }
    if desired - ready:
        status["numberUnavailable"] = desired - ready
    ctx.out.add(
        "daemonsets",
        {
            "metadata": applied_meta(
                ctx,
                workload,
                uid,
                labels,
                generation=current.number,
                annotations={"deprecated.daemonset.template.generation": str(current.number)},
            ),
            "spec": {
                "selector": {"matchLabels": labels},
                "template": pod_template(spec, labels, current.image),
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                },
                "revisionHistoryLimit": 10,
            },
            "status": status,
        },
    )
