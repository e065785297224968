"""What kubelet serves as each pod's log, and the events kubelet and the scheduler record for it.

One branch per pod state: a running pod logs health checks, a crashing one its crash (with the
previous container's log), an image that cannot be pulled or a pod that cannot be scheduled
their retried events, an evicted pod its eviction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import faults
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.render.events import event
from k8s_monitor.sim.render.pod_plan import UNSCHEDULABLE, PodPlan
from k8s_monitor.sim.view import ContainerLogs
from k8s_monitor.sim.world import Fault


def logs_and_events(
    ctx: RenderContext, pod: PodPlan, uid: str, container: str, node: str | None
) -> None:
    """The pod's container log (what ``kubectl logs`` would say) and its events, by state."""
    key = (pod.workload.spec.namespace, pod.name, container)
    if pod.state == "running":
        ctx.out.logs[key] = ContainerLogs(current=_access_log(ctx, pod))
    elif pod.state in ("crashloop", "recovered") and pod.fault is not None:
        _crash_loop(ctx, pod, pod.fault, uid, container, node)
    elif pod.state == "imagepull":
        ctx.out.logs[key] = ContainerLogs(
            current=None, waiting_reason="trying and failing to pull image"
        )
        _image_pull(ctx, pod, uid, container, node)
    elif pod.state == "pending":
        ctx.out.logs[key] = ContainerLogs(current=None, waiting_reason="ContainerCreating")
        _unschedulable(ctx, pod, uid)
        faults.autoscaler_event(ctx, pod, uid)
    elif pod.state in faults.STATES:
        faults.pod_events(ctx, pod, uid, container, node)
    elif pod.state == "evicted":
        ctx.out.logs[key] = ContainerLogs(current="")
        _evicted(ctx, pod, uid, container, node)
    elif pod.state == "failed":
        failure = pod.workload.job_failure
        text = _stamp(ctx, failure.log, pod.since) if failure and failure.log else ""
        ctx.out.logs[key] = ContainerLogs(current=text)
    else:
        ctx.out.logs[key] = ContainerLogs(current="")


def _crash_loop(
    ctx: RenderContext, pod: PodPlan, fault: Fault, uid: str, container: str, node: str | None
) -> None:
    """The crash in the previous container's log, and kubelet's counted BackOff event."""
    namespace = pod.workload.spec.namespace
    previous = _stamp(ctx, fault.log, fault.since) if fault.log else ""
    current = _access_log(ctx, pod) if pod.state == "recovered" else previous
    ctx.out.logs[(namespace, pod.name, container)] = ContainerLogs(
        current=current, previous=previous
    )
    end = fault.end if fault.end is not None else ctx.now_offset
    restarts, _ = o.crash_restarts(end - fault.since)
    kubelet = _Kubelet(ctx, pod, uid, container, node)
    kubelet.event(
        "BackOff",
        f"Back-off restarting failed container {container} in pod {pod.name}_{namespace}({uid})",
        "Warning",
        fault.since + 14,
        end,
        max(restarts, 1),
    )


def _image_pull(
    ctx: RenderContext, pod: PodPlan, uid: str, container: str, node: str | None
) -> None:
    """kubelet's retried pull failures and back-off, counted since the image went bad."""
    image = pod.image
    detail = pod.pull_error or "not found"
    attempts = max(1, int((ctx.now_offset - pod.since) // 300) + 2)
    kubelet = _Kubelet(ctx, pod, uid, container, node)
    kubelet.event(
        "Failed",
        f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
        f'pull and unpack image "{image}": failed to resolve reference "{image}": {detail}',
        "Warning",
        pod.since + 2,
        ctx.now_offset - 30,
        attempts,
    )
    last_pull, retries = ctx.now_offset - 20, attempts * 6
    kubelet.event("Failed", "Error: ImagePullBackOff", "Warning", pod.since + 3, last_pull, retries)
    kubelet.event(
        "BackOff", f'Back-off pulling image "{image}"', "Normal", pod.since + 3, last_pull, retries
    )


@dataclass(frozen=True)
class _Kubelet:
    """The kubelet reporting on one container of one pod: what its events have in common."""

    ctx: RenderContext
    pod: PodPlan
    uid: str
    container: str
    node: str | None

    def event(
        self, reason: str, message: str, type_: str, first: float, last: float, count: int
    ) -> None:
        event(
            self.ctx,
            "Pod",
            self.pod.workload.spec.namespace,
            self.pod.name,
            self.uid,
            reason,
            message,
            type_,
            first,
            last,
            count,
            "kubelet",
            host=self.node,
            field_path=f"spec.containers{{{self.container}}}",
        )


def _unschedulable(ctx: RenderContext, pod: PodPlan, uid: str) -> None:
    namespace = pod.workload.spec.namespace
    event(
        ctx,
        "Pod",
        namespace,
        pod.name,
        uid,
        "FailedScheduling",
        pod.fault.message if pod.fault else UNSCHEDULABLE,
        "Warning",
        pod.since,
        ctx.now_offset - 10,
        max(1, int((ctx.now_offset - pod.since) // 60)),
        "default-scheduler",
    )


def _evicted(ctx: RenderContext, pod: PodPlan, uid: str, container: str, node: str | None) -> None:
    namespace = pod.workload.spec.namespace
    event(
        ctx, "Pod", namespace, pod.name, uid, "Evicted", pod.message, "Warning",
        pod.since, pod.since, 1, "kubelet", host=node,
    )  # fmt: skip
    event(
        ctx, "Pod", namespace, pod.name, uid, "Killing", f"Stopping container {container}",
        "Normal", pod.since + 1, pod.since + 1, 1, "kubelet", host=node,
        field_path=f"spec.containers{{{container}}}",
    )  # fmt: skip


def _stamp(ctx: RenderContext, text: str, since: float) -> str:
    """Prefix untimed log lines with the crash time, as a JSON-logging app would write."""
    moment = ctx.at(since)
    lines = text.rstrip("\n").split("\n")
    return "\n".join(line.replace("{time}", o.ts(moment)) for line in lines) + "\n"


def _access_log(ctx: RenderContext, pod: PodPlan) -> str:
    if pod.workload.spec.log:
        return _stamp(ctx, pod.workload.spec.log, pod.since)
    lines = []
    for k in range(12):
        moment = ctx.now - timedelta(seconds=(12 - k) * 7)
        lines.append(
            f'{o.ts(moment)} INFO http: 10.0.{k % 7}.{k + 20} "GET /healthz HTTP/1.1" 200 2 '
            f"{1 + k % 5}ms"
        )
    return "\n".join(lines) + "\n"
