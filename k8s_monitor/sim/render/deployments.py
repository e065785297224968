"""Deployments and the ReplicaSets they own, one per pod template, with their pods.

A rolling update (25% surge, 25% unavailable) stuck on a broken template keeps most pods on
the last good one; past the progress deadline the Deployment says so. A rollback scales the
old ReplicaSet back up with its pods' names and ages.
"""

from __future__ import annotations

import math

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import faults
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.events import event, past_fault_events
from k8s_monitor.sim.render.pod_plan import FAULTED_STATES, PodPlan, pod_state
from k8s_monitor.sim.render.pods import emit_pod, evicted_pods
from k8s_monitor.sim.render.templates import applied_meta, pod_template, workload_labels
from k8s_monitor.sim.world import Revision, WorkloadState

PROGRESS_DEADLINE_SECONDS = 600


def deployment(ctx: RenderContext, workload: WorkloadState) -> None:
    """One ReplicaSet per recent template with its pods, then the Deployment's events and itself."""
    spec = workload.spec
    replicas = workload.replicas
    current = workload.current
    latest: dict[str, Revision] = {}
    for revision in workload.revisions[-10:]:
        latest[revision.template_key] = revision
    first: dict[str, Revision] = {}
    for revision in workload.revisions:
        first.setdefault(revision.template_key, revision)
    counts = _replica_counts(replicas, workload.revisions)
    # Pods that already existed before the latest revision keep their names and ages
    # (a rollback scales the old ReplicaSet back up; it does not recreate its pods).
    before = _replica_counts(replicas, workload.revisions[:-1]) if current.number > 1 else {}
    uid = o.make_uid("Deployment", spec.namespace, spec.name)
    labels = workload_labels(spec)
    ready_total = total = 0
    rs_names: dict[str, str] = {}
    for key, revision in sorted(latest.items(), key=lambda kv: kv[1].number):
        template_hash = o.name_suffix(10, spec.namespace, spec.name, key)
        rs_name = f"{spec.name}-{template_hash}"
        rs_names[key] = rs_name
        rs_uid = o.make_uid("ReplicaSet", spec.namespace, rs_name)
        pod_labels = {**labels, "pod-template-hash": template_hash}
        count = counts.get(key, 0)
        state, since = pod_state(workload, revision)
        ready = 0
        survivors = before.get(key, 0) if key == current.template_key else count
        for index in range(count):
            born = first[key] if index < survivors else revision
            created = max(born.since, workload.created) + index * 3
            pod = PodPlan(
                workload=workload,
                name=f"{rs_name}-{o.name_suffix(5, rs_name, str(born.number), str(index))}",
                owner=o.owner_ref("apps/v1", "ReplicaSet", rs_name, rs_uid),
                labels=pod_labels,
                image=revision.image,
                created=created,
                node=None,
                state=state,
                since=max(since, created),
                fault=workload.fault if state in FAULTED_STATES else None,
                pull_error=revision.pull_error,
                message=revision.config_error or "",
            )
            if emit_pod(ctx, pod):
                ready += 1
        total += count
        ready_total += ready
        ctx.out.add(
            "replicasets",
            _replicaset(ctx, workload, revision, rs_name, rs_uid, uid, pod_labels, count, ready),
        )
        faults.scale_refused(ctx.out.objects["replicasets"][-1], workload, revision)
    _deployment_events(ctx, workload, rs_names)
    faults.refused_replicaset(ctx, workload, rs_names)
    past_fault_events(ctx, workload)
    evicted_pods(ctx, workload)
    ctx.out.add(
        "deployments",
        _deployment_object(ctx, workload, uid, labels, total, ready_total, rs_names),
    )


def _replicaset(
    ctx: RenderContext,
    workload: WorkloadState,
    revision: Revision,
    name: str,
    uid: str,
    owner_uid: str,
    labels: dict[str, str],
    count: int,
    ready: int,
) -> JSON:
    spec = workload.spec
    return {
        "metadata": o.object_meta(
            name=name,
            namespace=spec.namespace,
            uid=uid,
            created=ctx.at(max(revision.since, workload.created)),
            resource_version=ctx.next_rv(),
            labels=labels,
            annotations={
                "deployment.kubernetes.io/desired-replicas": str(workload.replicas),
                "deployment.kubernetes.io/max-replicas": str(
                    workload.replicas + math.ceil(workload.replicas * 0.25)
                ),
                "deployment.kubernetes.io/revision": str(revision.number),
            },
            owner=o.owner_ref("apps/v1", "Deployment", spec.name, owner_uid),
            generation=revision.number,
        ),
        "spec": {
            "replicas": count,
            "selector": {"matchLabels": labels},
            "template": pod_template(spec, labels, revision.image),
        },
        "status": {
            "replicas": count,
            "fullyLabeledReplicas": count,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": revision.number,
        }
        if count
        else {"replicas": 0, "observedGeneration": revision.number},
    }


def _deployment_object(
    ctx: RenderContext,
    workload: WorkloadState,
    uid: str,
    labels: dict[str, str],
    total: int,
    ready: int,
    rs_names: dict[str, str],
) -> JSON:
    spec = workload.spec
    current = workload.current
    replicas = workload.replicas
    updated = (
        min(replicas, max(1, math.ceil(replicas * 0.25) + math.floor(replicas * 0.25)))
        if current.broken and workload.last_good() is not None
        else replicas
    )
    if current.create_error is not None:
        updated = 0
    max_unavailable = math.floor(replicas * 0.25)
    unavailable = max(0, replicas - ready)
    change_at = ctx.at(max(current.since, workload.created))
    fault_since = workload.fault.since if workload.fault is not None else current.since
    if ready >= replicas - max_unavailable:
        available = o.condition(
            "Available",
            "True",
            change_at,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            update=change_at,
        )
    else:
        since = ctx.at(max(fault_since, workload.created))
        available = o.condition(
            "Available",
            "False",
            since,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            update=since,
        )
    rs_name = rs_names[current.template_key]
    elapsed = ctx.now_offset - current.since
    if current.broken and elapsed > PROGRESS_DEADLINE_SECONDS:
        deadline = ctx.at(current.since + PROGRESS_DEADLINE_SECONDS)
        progressing = o.condition(
            "Progressing",
            "False",
            deadline,
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
            update=deadline,
        )
    elif current.broken:
        progressing = o.condition(
            "Progressing",
            "True",
            change_at,
            "ReplicaSetUpdated",
            f'ReplicaSet "{rs_name}" is progressing.',
            update=change_at,
        )
    else:
        progressing = o.condition(
            "Progressing",
            "True",
            ctx.at(workload.created),
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            update=change_at,
        )
    generation = current.number + (1 if workload.scaled_at is not None else 0)
    status: JSON = {
        "observedGeneration": generation,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [available, progressing],
    }
    failure = faults.replica_failure(workload, ctx.at(current.since + 1))
    if failure is not None:
        status["conditions"].append(failure)
    if unavailable:
        status["unavailableReplicas"] = unavailable
    if not ready:
        del status["readyReplicas"]
        del status["availableReplicas"]
    return {
        "metadata": applied_meta(
            ctx,
            workload,
            uid,
            labels,
            generation=generation,
            annotations={"deployment.kubernetes.io/revision": str(current.number)},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": pod_template(spec, labels, current.image),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        },
        "status": status,
    }


def _deployment_events(
    ctx: RenderContext, workload: WorkloadState, rs_names: dict[str, str]
) -> None:
    spec = workload.spec
    uid = o.make_uid("Deployment", spec.namespace, spec.name)
    for revision in workload.revisions[1:]:
        rs_name = rs_names.get(revision.template_key)
        if rs_name is None:
            continue
        event(
            ctx,
            "Deployment",
            spec.namespace,
            spec.name,
            uid,
            "ScalingReplicaSet",
            f"Scaled up replica set {rs_name} to {workload.replicas}",
            "Normal",
            revision.since,
            revision.since,
            1,
            "deployment-controller",
            api_version="apps/v1",
        )


def _replica_counts(replicas: int, revisions: list[Revision]) -> dict[str, int]:
    """Pods per pod template once the last of ``revisions`` is rolled out.

    A rolling update (25% surge, 25% unavailable) stuck on a template that cannot be pulled
    keeps most pods on the last good template.
    """
    current = revisions[-1]
    good = next((r for r in reversed(revisions[:-1]) if not r.broken), None)
    counts = {r.template_key: 0 for r in revisions[-10:]}
    new_count = replicas
    if current.create_error is not None and good is not None:
        # The apiserver refuses the new pods: the old ReplicaSet keeps every replica.
        counts[good.template_key] = replicas
        new_count = 0
    elif current.broken and good is not None:
        surge = math.ceil(replicas * 0.25)
        unavailable = math.floor(replicas * 0.25)
        new_count = min(replicas, max(1, surge + unavailable))
        counts[good.template_key] = replicas - unavailable
    counts[current.template_key] = new_count
    return counts
