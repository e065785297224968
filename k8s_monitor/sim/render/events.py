"""Events: the one writer every kind uses, the scenario's timeline, and events that outlive pods.

Events carry counts and first/last timestamps; those last seen more than an hour ago are
dropped, as the apiserver's event TTL does.
"""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.world import WorkloadState

EVENT_TTL_SECONDS = 3600.0


def event(
    ctx: RenderContext,
    kind: str,
    namespace: str | None,
    name: str,
    uid: str,
    reason: str,
    message: str,
    type_: str,
    first: float,
    last: float,
    count: int,
    component: str,
    *,
    host: str | None = None,
    api_version: str = "v1",
    field_path: str | None = None,
) -> None:
    """One event about ``kind/name``, seen ``count`` times from ``first`` to ``last`` (offsets).

    Clamped to now; dropped when last seen longer ago than the event TTL.
    """
    last = min(last, ctx.now_offset)
    first = min(first, last)
    if ctx.now_offset - last > EVENT_TTL_SECONDS:
        return
    involved = o.involved_object(kind, namespace, name, uid, api_version)
    if field_path:
        involved["fieldPath"] = field_path
    ctx.out.add(
        "events",
        o.event(
            namespace=namespace or "default",
            involved=involved,
            reason=reason,
            message=message,
            type_=type_,
            first=ctx.at(first),
            last=ctx.at(last),
            count=count,
            component=component,
            host=host,
            resource_version=ctx.next_rv(),
        ),
    )


def timeline_events(ctx: RenderContext) -> None:
    """Events the scenario's changes recorded (node conditions, explicit events), up to now."""
    for item in ctx.world.timeline:
        if item.at > ctx.now_offset:
            continue
        uid = o.make_uid(item.kind, item.namespace or "", item.name)
        event(
            ctx,
            item.kind,
            item.namespace,
            item.name,
            uid,
            item.reason,
            item.message,
            item.type,
            item.at,
            item.at + 60 * (item.count - 1),
            item.count,
            item.component,
            host=item.name if item.kind == "Node" else None,
        )


def past_fault_events(ctx: RenderContext, workload: WorkloadState) -> None:
    """Events outlive the pods they were about (the apiserver keeps them an hour)."""
    spec = workload.spec
    by_number = {revision.number: revision for revision in workload.revisions}
    for past in workload.past_faults:
        revision = by_number.get(past.revision)
        if past.end is None or revision is None:
            continue
        restarts, _ = o.crash_restarts(past.end - past.since)
        template_hash = o.name_suffix(10, spec.namespace, spec.name, revision.template_key)
        rs_name = f"{spec.name}-{template_hash}"
        for index in range(workload.replicas):
            suffix = o.name_suffix(5, rs_name, str(revision.number), str(index))
            pod = f"{rs_name}-{suffix}"
            uid = o.make_uid("Pod", spec.namespace, pod)
            event(
                ctx,
                "Pod",
                spec.namespace,
                pod,
                uid,
                "BackOff",
                f"Back-off restarting failed container {past.container} in pod "
                f"{pod}_{spec.namespace}({uid})",
                "Warning",
                past.since + 14,
                past.end,
                max(restarts, 1),
                "kubelet",
                field_path=f"spec.containers{{{past.container}}}",
            )
