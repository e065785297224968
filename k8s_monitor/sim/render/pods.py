"""Pods: the object a pod plan becomes, its status for each state, and evicted pods.

kubelet's crash back-off drives restart counts; a pod on a node that stopped being Ready is
marked not ready. Logs and the kubelet's events for each pod are in ``pod_logs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import faults, pod_logs
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.pod_plan import UNSCHEDULABLE, PodPlan
from k8s_monitor.sim.render.templates import workload_labels
from k8s_monitor.sim.world import Fault, WorkloadState


def emit_pod(ctx: RenderContext, pod: PodPlan) -> bool:
    """Write one pod, its logs and its events. Returns whether it is Ready."""
    spec = pod.workload.spec
    namespace = spec.namespace
    uid = o.make_uid("Pod", namespace, pod.name)
    node = pod.node or ctx.place(namespace, pod.name)
    if pod.state == "pending":
        node = None
    container = spec.name
    created = ctx.at(pod.created)
    status, ready = _pod_status(ctx, pod, uid, container, node, created)
    pod_spec = o.pod_spec(
        [
            o.container_spec(
                container,
                pod.image,
                port=spec.port,
                cpu=spec.cpu,
                memory=spec.memory,
                env=spec.env,
                secret_env=spec.secret_env,
            )
        ],
        node,
        spec.service_account,
    )
    if spec.kind in ("Job", "CronJob"):
        pod_spec["restartPolicy"] = "Never"
    ctx.out.add(
        "pods",
        {
            "metadata": o.object_meta(
                name=pod.name,
                namespace=namespace,
                uid=uid,
                created=created,
                resource_version=ctx.next_rv(),
                labels=pod.labels,
                owner=pod.owner,
                managed_by="kubelet",
                generate_name=pod.name.rsplit("-", 1)[0] + "-"
                if spec.kind != "StatefulSet"
                else None,
            ),
            "spec": pod_spec,
            "status": status,
        },
    )
    pod_logs.logs_and_events(ctx, pod, uid, container, node)
    return ready


def _node_down_since(ctx: RenderContext, node: str | None) -> float | None:
    state = ctx.world.nodes.get(node or "")
    if state is None:
        return None
    ready = state.conditions.get("Ready")
    if ready is None or ready.status == "True":
        return None
    return ready.since


def _pod_status(
    ctx: RenderContext, pod: PodPlan, uid: str, container: str, node: str | None, created: datetime
) -> tuple[JSON, bool]:
    started = created + timedelta(seconds=2)
    ready_since = ctx.at(pod.since) + timedelta(seconds=8)
    container_id = f"containerd://{o.name_suffix(32, uid, 'c')}".replace("z", "a")
    image_id = f"{pod.image.split(':')[0]}@sha256:{o.name_suffix(32, pod.image)}"
    base = {"name": container, "image": pod.image, "imageID": image_id}
    ready = False
    # The node lifecycle controller marks pods on an unready node not ready.
    node_down = _node_down_since(ctx, node)
    phase = "Running"
    state: JSON
    last_state: JSON = {}
    restarts = 0
    if pod.state == "pending":
        return _unscheduled_status(ctx, pod), False
    if pod.state == "evicted":
        return _evicted_status(ctx, pod, container, created), False
    if pod.state in faults.STATES:
        return faults.pod_status(ctx, pod, container, node), False
    if pod.state == "running":
        ready = node_down is None
        state = {"running": {"startedAt": o.ts(started)}}
    elif pod.state == "imagepull":
        phase = "Pending"
        base["imageID"] = ""
        state = {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{pod.image}"',
            }
        }
    elif pod.state in ("crashloop", "recovered") and pod.fault is not None:
        state, last_state, restarts, ready = _crash_container(
            ctx, pod, pod.fault, uid, container, container_id
        )
    else:  # completed / failed job pods
        phase = "Succeeded" if pod.state == "completed" else "Failed"
        state = {
            "terminated": {
                "exitCode": pod.exit_code,
                "reason": "Completed" if pod.state == "completed" else "Error",
                "startedAt": o.ts(started),
                "finishedAt": o.ts(started + timedelta(seconds=35)),
                "containerID": container_id,
            }
        }
    container_status: JSON = {
        **base,
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "restartCount": restarts,
        "started": ready or pod.state == "recovered",
    }
    if base.get("imageID"):
        container_status["containerID"] = container_id
    if ready:
        ready_cond = o.condition("Ready", "True", ready_since, probe_time=True)
        containers_ready = o.condition("ContainersReady", "True", ready_since, probe_time=True)
    else:
        finished = pod.state in ("completed", "failed")
        reason = "PodCompleted" if finished else "ContainersNotReady"
        message = None if finished else f"containers with unready status: [{container}]"
        since = ctx.at(pod.since if node_down is None else max(pod.since, node_down))
        ready_cond = o.condition("Ready", "False", since, reason, message, probe_time=True)
        containers_ready = o.condition(
            "ContainersReady", "False", since, reason, message, probe_time=True
        )
    host_ip = o.node_ip(node or "")
    ip = o.pod_ip(pod.workload.spec.namespace, pod.name)
    status: JSON = {
        "phase": phase,
        "conditions": [
            o.condition("PodReadyToStartContainers", "True", started, probe_time=True),
            o.condition("Initialized", "True", created, probe_time=True),
            ready_cond,
            containers_ready,
            o.condition("PodScheduled", "True", created, probe_time=True),
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": o.ts(created),
        "containerStatuses": [container_status],
        "qosClass": "Burstable",
    }
    return status, ready


def _unscheduled_status(ctx: RenderContext, pod: PodPlan) -> JSON:
    """Pending with no node: the scheduler's reason on PodScheduled, no container status."""
    return {
        "phase": "Pending",
        "conditions": [
            o.condition(
                "PodScheduled",
                "False",
                ctx.at(pod.since),
                "Unschedulable",
                pod.fault.message if pod.fault else UNSCHEDULABLE,
                probe_time=True,
            )
        ],
        "qosClass": "Burstable",
    }


def _crash_container(
    ctx: RenderContext, pod: PodPlan, fault: Fault, uid: str, container: str, container_id: str
) -> tuple[JSON, JSON, int, bool]:
    """State, last state, restarts and readiness of a crash-looping (or recovered) container."""
    end = fault.end if pod.state == "recovered" and fault.end is not None else ctx.now_offset
    namespace = pod.workload.spec.namespace
    restarts, since_crash = o.crash_restarts(end - fault.since)
    restarts = max(restarts, 1)
    last_crash = ctx.at(end - since_crash)
    terminated: JSON = {
        "exitCode": fault.exit_code,
        "reason": fault.reason,
        "startedAt": o.ts(last_crash - timedelta(seconds=4)),
        "finishedAt": o.ts(last_crash),
        "containerID": container_id,
    }
    if fault.message:
        terminated["message"] = fault.message
    last_state: JSON = {"terminated": terminated}
    if pod.state == "recovered":
        state: JSON = {"running": {"startedAt": o.ts(ctx.at(end))}}
        return state, last_state, restarts, True
    backoff = min(300, 10 * 2 ** max(restarts - 1, 0))
    state = {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": f"back-off {_duration(backoff)} restarting failed "
            f"container={container} pod={pod.name}_{namespace}({uid})",
        }
    }
    return state, last_state, restarts, False


def evicted_pods(ctx: RenderContext, workload: WorkloadState) -> None:
    """Pods the kubelet evicted: Failed, reason Evicted, kept until someone deletes them."""
    spec = workload.spec
    by_number = {revision.number: revision for revision in workload.revisions}
    for number, eviction in enumerate(workload.evictions):
        if eviction.at > ctx.now_offset or eviction.revision not in by_number:
            continue
        revision = by_number[eviction.revision]
        template_hash = o.name_suffix(10, spec.namespace, spec.name, revision.template_key)
        rs_name = f"{spec.name}-{template_hash}"
        rs_uid = o.make_uid("ReplicaSet", spec.namespace, rs_name)
        unit = "Mi" if eviction.resource == "memory" else "Gi"
        message = (
            f"The node was low on resource: {eviction.resource}. "
            f"Threshold quantity: 100{unit}, available: 92{unit}. "
            f"Container {spec.name} was using 1203{unit}, request is {spec.memory}, "
            f"has larger consumption of {eviction.resource}. "
        )
        for index in range(eviction.count):
            name = f"{rs_name}-{o.name_suffix(5, rs_name, 'evicted', str(number), str(index))}"
            emit_pod(
                ctx,
                PodPlan(
                    workload=workload,
                    name=name,
                    owner=o.owner_ref("apps/v1", "ReplicaSet", rs_name, rs_uid),
                    labels={**workload_labels(spec), "pod-template-hash": template_hash},
                    image=revision.image,
                    created=max(revision.since, workload.created),
                    node=eviction.node,
                    state="evicted",
                    since=eviction.at,
                    message=message,
                ),
            )


def _evicted_status(ctx: RenderContext, pod: PodPlan, container: str, created: datetime) -> JSON:
    at = ctx.at(pod.since)
    return {
        "phase": "Failed",
        "reason": "Evicted",
        "message": pod.message,
        "conditions": [
            o.condition(
                "DisruptionTarget",
                "True",
                at,
                "TerminationByKubelet",
                pod.message.split(". ", 1)[0] + ".",
                probe_time=True,
            ),
            o.condition("Ready", "False", at, "PodFailed", probe_time=True),
            o.condition("PodScheduled", "True", created, probe_time=True),
        ],
        "hostIP": o.node_ip(pod.node or ""),
        "startTime": o.ts(created),
        "containerStatuses": [
            {
                "name": container,
                "image": pod.image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "ContainerStatusUnknown",
                        "message": "The container could not be located when the pod was terminated",
                    }
                },
                "lastState": {},
            }
        ],
        "qosClass": "Burstable",
    }


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"
