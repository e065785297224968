"""Pod and controller states the failure-mode scenarios add, rendered as a real cluster shows them.

A pod waiting in CreateContainerConfigError, a pod stuck in ContainerCreating because the CNI
has no IP for it or its volume will not attach, a CronJob whose Jobs the apiserver refuses, a
ReplicaSet the apiserver refuses (quota, webhook, missing PriorityClass or ServiceAccount), a
pending pod the autoscaler will not help, a cordoned node.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.events import event
from k8s_monitor.sim.render.pod_plan import PodPlan
from k8s_monitor.sim.view import ContainerLogs
from k8s_monitor.sim.world import Revision, WorkloadState

# Pod states this module renders (``PodPlan.state``).
STATES = frozenset({"configerror", "sandbox"})
SANDBOX_RETRY_SECONDS = 30


def pod_status(ctx: RenderContext, pod: PodPlan, container: str, node: str | None) -> JSON:
    """A scheduled pod whose container never starts: Pending, the container waiting."""
    created = ctx.at(pod.created)
    since = ctx.at(pod.since)
    if pod.state == "configerror":
        waiting = {
            "reason": "CreateContainerConfigError",
            "message": pod.message or "couldn't find key in ConfigMap",
        }
    else:
        waiting = {"reason": "ContainerCreating"}
    host_ip = o.node_ip(node or "")
    not_ready = f"containers with unready status: [{container}]"
    status: JSON = {
        "phase": "Pending",
        "conditions": [
            o.condition(
                "PodReadyToStartContainers",
                "False" if pod.state == "sandbox" else "True",
                created,
                probe_time=True,
            ),
            o.condition("Initialized", "True", created, probe_time=True),
            o.condition("Ready", "False", since, "ContainersNotReady", not_ready, probe_time=True),
            o.condition(
                "ContainersReady", "False", since, "ContainersNotReady", not_ready, probe_time=True
            ),
            o.condition("PodScheduled", "True", created, probe_time=True),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": o.ts(created),
        "containerStatuses": [
            {
                "name": container,
                "image": pod.image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": waiting},
                "lastState": {},
            }
        ],
        "qosClass": "Burstable",
    }
    if pod.state == "configerror":
        ip = o.pod_ip(pod.workload.spec.namespace, pod.name)
        status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
    return status


def pod_events(
    ctx: RenderContext, pod: PodPlan, uid: str, container: str, node: str | None
) -> None:
    namespace = pod.workload.spec.namespace
    key = (namespace, pod.name, container)
    ctx.out.logs[key] = ContainerLogs(current=None, waiting_reason=pod.state)
    attempts = max(1, int((ctx.now_offset - pod.since) // SANDBOX_RETRY_SECONDS))
    if pod.state == "configerror":
        event(
            ctx, "Pod", namespace, pod.name, uid, "Failed", f"Error: {pod.message}", "Warning",
            pod.since + 2, ctx.now_offset - 10, attempts, "kubelet", host=node,
            field_path=f"spec.containers{{{container}}}",
        )  # fmt: skip
        return
    fault = pod.workload.fault
    text = (fault.message if fault else "").replace("{sandbox}", o.name_suffix(64, uid, "sb"))
    reason = fault.event_reason if fault else "FailedCreatePodSandBox"
    if reason == "FailedAttachVolume":
        text = text.replace("{volume}", _claimed_volume(pod))
        component = "attachdetach-controller"
    else:
        component = "kubelet"
    event(
        ctx, "Pod", namespace, pod.name, uid, reason, text, "Warning",
        pod.since + 3, ctx.now_offset - 8, attempts, component, host=node,
    )  # fmt: skip


def _claimed_volume(pod: PodPlan) -> str:
    """The volume bound to the pod's first claim (``<template>-<pod>``).

    Named as ``storage.volume_claim`` names it.
    """
    spec = pod.workload.spec
    claim = f"data-{pod.name}"
    return f"pvc-{o.make_uid('PVC', spec.namespace, claim)}"


def autoscaler_event(ctx: RenderContext, pod: PodPlan, uid: str) -> None:
    """The autoscaler's answer to a pending pod: cluster autoscaler or Karpenter."""
    fault = pod.fault
    if fault is None or fault.autoscaler is None:
        return
    namespace = pod.workload.spec.namespace
    if fault.autoscaler == "cluster-autoscaler":
        reason, component = "NotTriggerScaleUp", "cluster-autoscaler"
    else:
        reason, component = "FailedScheduling", "karpenter"
    event(
        ctx, "Pod", namespace, pod.name, uid, reason, fault.autoscaler_message, "Normal"
        if reason == "NotTriggerScaleUp" else "Warning",
        pod.since + 10, ctx.now_offset - 12,
        max(1, int((ctx.now_offset - pod.since) // 10)), component,
    )  # fmt: skip


def refused_replicaset(
    ctx: RenderContext, workload: WorkloadState, rs_names: dict[str, str]
) -> None:
    """The ReplicaSet controller's FailedCreate events for a revision the apiserver refuses."""
    current = workload.current
    if current.create_error is None:
        return
    spec = workload.spec
    rs_name = rs_names.get(current.template_key)
    if rs_name is None:
        return
    attempts = max(1, int((ctx.now_offset - current.since) // 60))
    event(
        ctx, "ReplicaSet", spec.namespace, rs_name,
        o.make_uid("ReplicaSet", spec.namespace, rs_name), "FailedCreate",
        f"Error creating: {current.create_error}", "Warning",
        current.since + 1, ctx.now_offset - 15, attempts, "replicaset-controller",
        api_version="apps/v1",
    )  # fmt: skip


def scale_refused(replicaset: JSON, workload: WorkloadState, revision: Revision) -> None:
    """The rollout scales the new ReplicaSet up (its surge) even though each pod is refused."""
    current = workload.current
    if revision.create_error is None or revision.template_key != current.template_key:
        return
    replicaset["spec"]["replicas"] = max(1, math.ceil(workload.replicas * 0.25))


def replica_failure(workload: WorkloadState, since: datetime) -> JSON | None:
    """The Deployment condition that says its new ReplicaSet cannot create pods."""
    error = workload.current.create_error
    if error is None:
        return None
    return o.condition("ReplicaFailure", "True", since, "FailedCreate", error[:1000], update=since)


def runs_refused_from(ctx: RenderContext, workload: WorkloadState) -> float:
    """The epoch second from which the apiserver refuses the CronJob's Jobs (inf: never)."""
    refusal = workload.job_refusal
    if refusal is None or refusal.since > ctx.now_offset:
        return math.inf
    return ctx.at(refusal.since).timestamp()


def refused_runs(
    ctx: RenderContext, workload: WorkloadState, uid: str, refused_from: float, period: float
) -> None:
    """The CronJob controller's FailedCreate events, one per refused run (counted)."""
    refusal = workload.job_refusal
    if refusal is None or math.isinf(refused_from):
        return
    spec = workload.spec
    now_epoch = ctx.now.timestamp()
    first = math.ceil(refused_from / period) * period
    if first > now_epoch:
        return
    count = int((now_epoch - first) // period) + 1
    latest = math.floor(now_epoch / period) * period
    name = f"{spec.name}-{int(latest // 60)}"
    since = ctx.now_offset - (now_epoch - first)
    event(
        ctx, "CronJob", spec.namespace, spec.name, uid, "FailedCreate",
        f'Error creating job: jobs.batch "{name}" is forbidden: {refusal.message}', "Warning",
        since, ctx.now_offset - (now_epoch - latest), count, "cronjob-controller",
        api_version="batch/v1",
    )  # fmt: skip


def cordon(node_spec: JSON, cordoned: datetime | None) -> None:
    """``kubectl cordon``: unschedulable, and the node controller's NoSchedule taint (dated)."""
    if cordoned is None:
        return
    node_spec["unschedulable"] = True
    taint = {
        "key": "node.kubernetes.io/unschedulable",
        "effect": "NoSchedule",
        "timeAdded": o.ts(cordoned + timedelta(seconds=1)),
    }
    node_spec["taints"] = [*node_spec.get("taints", []), taint]
