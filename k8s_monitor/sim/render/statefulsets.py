"""StatefulSets: ordinal pods, a rolling update from the highest ordinal down, one claim per pod."""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import storage
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.pod_plan import FAULTED_STATES, PodPlan, pod_state
from k8s_monitor.sim.render.pods import emit_pod
from k8s_monitor.sim.render.templates import applied_meta, pod_template, workload_labels
from k8s_monitor.sim.world import Fault, WorkloadState


def statefulset(ctx: RenderContext, workload: WorkloadState) -> None:
    """Pods ``<name>-0..n-1`` with their claims, then the StatefulSet."""
    spec = workload.spec
    labels = workload_labels(spec)
    uid = o.make_uid("StatefulSet", spec.namespace, spec.name)
    current = workload.current
    good = workload.last_good() or current
    ready = 0
    for index in range(workload.replicas):
        # RollingUpdate goes from the highest ordinal down and stops at the first failure.
        on_current = not current.broken or index == workload.replicas - 1
        revision = current if on_current else good
        revision_hash = (
            f"{spec.name}-{o.name_suffix(10, spec.namespace, spec.name, revision.template_key)}"
        )
        state, since = pod_state(workload, revision)
        created = max(revision.since, workload.created) + index * 20
        fault = workload.fault if state in FAULTED_STATES else None
        if spec.volume and storage.class_missing(ctx, workload):
            state, since = "pending", created
            fault = Fault(
                "pending",
                revision.number,
                created,
                message=storage.unbound_message(ctx),
            )
        pod = PodPlan(
            workload=workload,
            name=f"{spec.name}-{index}",
            owner=o.owner_ref("apps/v1", "StatefulSet", spec.name, uid),
            labels={
                **labels,
                "apps.kubernetes.io/pod-index": str(index),
                "controller-revision-hash": revision_hash,
                "statefulset.kubernetes.io/pod-name": f"{spec.name}-{index}",
            },
            image=revision.image,
            created=created,
            node=None,
            state=state,
            since=max(since, created),
            fault=fault,
            pull_error=revision.pull_error,
        )
        if emit_pod(ctx, pod):
            ready += 1
        if spec.volume:
            storage.volume_claim(ctx, workload, f"data-{spec.name}-{index}", created)
    current_hash = (
        f"{spec.name}-{o.name_suffix(10, spec.namespace, spec.name, current.template_key)}"
    )
    status: JSON = {
        "observedGeneration": current.number,
        "replicas": workload.replicas,
        "readyReplicas": ready,
        "currentReplicas": workload.replicas,
        "updatedReplicas": 1 if current.broken else workload.replicas,
        "availableReplicas": ready,
        "currentRevision": current_hash,
        "updateRevision": current_hash,
        "collisionCount": 0,
    }
    ctx.out.add(
        "statefulsets",
        {
            "metadata": applied_meta(ctx, workload, uid, labels, generation=current.number),
            "spec": {
                "replicas": workload.replicas,
                "selector": {"matchLabels": labels},
                "template": pod_template(spec, labels, current.image),
                "serviceName": spec.name,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"partition": 0},
                },
                "revisionHistoryLimit": 10,
            },
            "status": status,
        },
    )
