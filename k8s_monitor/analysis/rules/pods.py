"""Pod rules: containers that cannot start or keep dying, pods that cannot be placed or be ready.

kubernetes-mixin equivalents: KubePodCrashLooping, KubeContainerWaiting, KubePodNotReady.
Every check here takes one pod and returns its findings with the *pod* as subject; ``analyze``
then groups them under the owning workload.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.context import (
    RuleContext,
    condition,
    event_evidence,
    iso,
    make_finding,
    pod_ready,
    ref,
)
from k8s_monitor.analysis.rules.messages import (
    cni_out_of_ips,
    config_cause,
    nodepool,
    scheduling_verdict,
    volume_cause,
)
from k8s_monitor.cluster.snapshot import ContainerStatus, Event, Pod, StateTerminated

# Waiting reasons that only follow a real failure: flagged without waiting out a grace period.
MAIN_WAITING: dict[str, tuple[str, Severity]] = {
    "CrashLoopBackOff": ("CrashLoopBackOff", Severity.CRITICAL),
    "ImagePullBackOff": ("ImagePullBackOff", Severity.CRITICAL),
    "ErrImagePull": ("ImagePullBackOff", Severity.CRITICAL),
    "InvalidImageName": ("ImagePullBackOff", Severity.CRITICAL),
    "ErrImageNeverPull": ("ImagePullBackOff", Severity.CRITICAL),
    "ImageInspectError": ("ImagePullBackOff", Severity.CRITICAL),
    "RegistryUnavailable": ("ImagePullBackOff", Severity.CRITICAL),
    "CreateContainerConfigError": ("CreateContainerConfigError", Severity.CRITICAL),
    "CreateContainerError": ("ContainerCannotRun", Severity.CRITICAL),
    "RunContainerError": ("ContainerCannotRun", Severity.CRITICAL),
    "PreStartHookError": ("ContainerCannotRun", Severity.CRITICAL),
    "PostStartHookError": ("ContainerCannotRun", Severity.CRITICAL),
}
# An init container in these states blocks the whole pod; a crash loop there is InitContainerFailed.
INIT_WAITING: dict[str, tuple[str, Severity]] = {
    **MAIN_WAITING,
    "CrashLoopBackOff": ("InitContainerFailed", Severity.CRITICAL),
}
CANNOT_RUN_TERMINATIONS = frozenset({"ContainerCannotRun", "StartError"})
OOM_KILLED = frozenset({"OOMKilled"})
HIGH_RESTARTS = 5
RECENT_RESTART = timedelta(hours=1)
STUCK_TERMINATING = timedelta(minutes=5)
EVICTION_NEWS = timedelta(hours=1)
# Graceful node shutdown reports "Terminated" or "Shutdown"; both are evictions by the node.
EVICTION_REASONS = frozenset({"Evicted", "Shutdown", "NodeShutdown", "Terminated"})
MOUNT_EVENTS = frozenset({"FailedMount", "FailedAttachVolume"})
SCHEDULING_EVENTS = frozenset({"FailedScheduling"})
SANDBOX_EVENTS = frozenset({"FailedCreatePodSandBox"})
# Cluster autoscaler's verdict on a pending pod; Karpenter reports through FailedScheduling.
SCALE_UP_EVENTS = frozenset({"NotTriggerScaleUp", "FailedScheduling"})
CNI_DAEMONSET = ref("DaemonSet", "kube-system", "aws-node")


def _pod_ref(pod: Pod) -> ObjectRef:
    return ref("Pod", pod.metadata.namespace, pod.metadata.name)


def _container_evidence(pod: Pod, status: ContainerStatus, ctx: RuleContext) -> dict[str, Any]:
    waiting = status.state.waiting
    last = status.state.terminated or status.last_state.terminated
    return {
        "pod": pod.metadata.name,
        "container": status.name,
        "restart_count": status.restart_count,
        "ready": status.ready,
        "waiting_reason": waiting.reason if waiting else None,
        "waiting_message": waiting.message[:500] if waiting and waiting.message else None,
        "last_exit_code": last.exit_code if last else None,
        "last_termination_reason": last.reason if last and last.reason else None,
        "last_finished_at": iso(last.finished_at) if last else None,
        "node": pod.spec.node_name or None,
        "log_excerpt": ctx.log_excerpt(pod, status.name),
    }


def _is_job_pod(pod: Pod) -> bool:
    owner = pod.metadata.controller_ref()
    return owner is not None and owner.kind == "Job"


# --- checks -----------------------------------------------------------------------------------


def check_waiting_containers(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """CrashLoopBackOff, image pull, config and runtime errors of regular and init containers."""
    found: list[Finding] = []
    for statuses, table, role in (
        (pod.status.init_container_statuses, INIT_WAITING, "init container"),
        (pod.status.container_statuses, MAIN_WAITING, "container"),
    ):
        for status in statuses:
            waiting = status.state.waiting
            if waiting is None or waiting.reason not in table:
                continue
            reason, severity = table[waiting.reason]
            detail = f": {waiting.message[:200]}" if waiting.message else ""
            message = (
                f"{role} {status.name} of pod {pod.metadata.name} is {waiting.reason}"
                f" (restarts {status.restart_count}){detail}"
            )
            evidence = _container_evidence(pod, status, ctx)
            cause = (
                config_cause(waiting.message, pod.metadata.namespace)
                if reason == "CreateContainerConfigError"
                else None
            )
            found.append(
                make_finding(_pod_ref(pod), reason, severity, message, evidence, caused_by=cause)
            )
    return found


def _failed_state(
    status: ContainerStatus, reasons: frozenset[str], ctx: RuleContext
) -> tuple[StateTerminated, Severity] | None:
    """A termination for one of ``reasons`` that still matters, and how much.

    Critical while the container is dead from it now (terminated, or waiting to be restarted);
    a warning when it recovered within the last hour; nothing when it is history.
    """
    current, last = status.state.terminated, status.last_state.terminated
    if current is not None and current.reason in reasons:
        return current, Severity.CRITICAL
    if last is None or last.reason not in reasons:
        return None
    if status.state.waiting is not None:
        return last, Severity.CRITICAL
    if ctx.within(last.finished_at, RECENT_RESTART):
        return last, Severity.WARNING
    return None


def check_cannot_run(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """The runtime could not start the process (bad command, missing binary, exec format)."""
    found: list[Finding] = []
    for status in pod.status.container_statuses:
        failed = _failed_state(status, CANNOT_RUN_TERMINATIONS, ctx)
        if failed is None:
            continue
        state, severity = failed
        message = (
            f"container {status.name} of pod {pod.metadata.name} cannot run"
            f" ({state.reason}, exit code {state.exit_code}): {state.message[:200]}"
        )
        evidence = _container_evidence(pod, status, ctx)
        found.append(make_finding(_pod_ref(pod), "ContainerCannotRun", severity, message, evidence))
    return found


def check_failed_init(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """An init container exited non-zero and the pod is still not initialized."""
    if pod.status.phase not in ("Pending", "Failed"):
        return []
    for status in pod.status.init_container_statuses:
        # Only the current state: a failure followed by a running retry may still succeed.
        terminated = status.state.terminated
        if terminated is None or terminated.exit_code == 0:
            continue
        message = (
            f"init container {status.name} of pod {pod.metadata.name} failed with exit code"
            f" {terminated.exit_code} ({terminated.reason or 'Error'})"
        )
        evidence = _container_evidence(pod, status, ctx)
        return [
            make_finding(_pod_ref(pod), "InitContainerFailed", Severity.CRITICAL, message, evidence)
        ]
    return []


def check_oom_killed(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """A container OOM-killed and still down from it (critical), or recently (warning)."""
    found: list[Finding] = []
    for status in pod.status.container_statuses:
        failed = _failed_state(status, OOM_KILLED, ctx)
        if failed is None:
            continue
        _, severity = failed
        limit = _memory_limit(pod, status.name)
        message = (
            f"container {status.name} of pod {pod.metadata.name} was OOMKilled"
            f" (memory limit {limit or 'none'}, restarts {status.restart_count})"
        )
        evidence = {**_container_evidence(pod, status, ctx), "memory_limit": limit}
        found.append(make_finding(_pod_ref(pod), "OOMKilled", severity, message, evidence))
    return found


def _memory_limit(pod: Pod, container: str) -> str | None:
    for spec in pod.spec.containers:
        if spec.name == container:
            return spec.resources.get("limits", {}).get("memory")
    return None


def check_high_restarts(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Many restarts, the last one recent, while not (yet) in CrashLoopBackOff."""
    found: list[Finding] = []
    for status in pod.status.container_statuses:
        if status.restart_count < HIGH_RESTARTS:
            continue
        waiting = status.state.waiting
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            continue
        # Between two back-offs the current state is the fresh termination itself.
        last = status.state.terminated or status.last_state.terminated
        recent = last is not None and ctx.within(last.finished_at, RECENT_RESTART)
        undated_and_unready = (last is None or last.finished_at is None) and not status.ready
        if not (recent or undated_and_unready):
            continue
        message = (
            f"container {status.name} of pod {pod.metadata.name} restarted"
            f" {status.restart_count} times, last exit code {last.exit_code if last else '?'}"
        )
        evidence = _container_evidence(pod, status, ctx)
        found.append(
            make_finding(_pod_ref(pod), "HighRestarts", Severity.WARNING, message, evidence)
        )
    return found


def check_unschedulable(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """The scheduler found no node: at once when no node ever could, else after the grace.

    A constraint no node satisfies (a selector or affinity matching no node, a taint nothing
    tolerates, a volume pinned to another zone) or an autoscaler that refuses to add a node does
    not pass by waiting; insufficient resources while a node is being added usually does.
    """
    if pod.status.phase != "Pending" or pod.spec.node_name:
        return []
    scheduled = condition(pod.status.conditions, "PodScheduled")
    events = ctx.recent_events("Pod", pod.metadata.namespace, pod.metadata.name, SCHEDULING_EVENTS)
    if scheduled is not None and scheduled.reason == "SchedulingGated":
        return []  # held back on purpose by scheduling gates
    unschedulable = scheduled is not None and scheduled.status == "False"
    if not unschedulable and not events:
        return []
    why = (scheduled.message if scheduled is not None else "") or (
        events[-1].message if events else ""
    )
    verdict = scheduling_verdict(why)
    refusal, autoscaler_cause = _autoscaler_refusal(pod, ctx)
    grace = ctx.startup_grace(pod.metadata.namespace, pod.metadata.labels)
    waiting_helps = not verdict.impossible and autoscaler_cause is None
    if waiting_helps and not ctx.older_than(pod.metadata.creation_timestamp, grace):
        return []
    message = f"pod {pod.metadata.name} cannot be scheduled: {why[:300]}"
    if refusal is not None:
        message += f"; autoscaler: {refusal.message[:200]}"
    cause = autoscaler_cause
    if "volume node affinity conflict" in verdict.permanent:
        cause = _zone_conflict_cause(pod, ctx) or cause
    evidence = {
        "pod": pod.metadata.name,
        "condition_reason": scheduled.reason if scheduled else None,
        "condition_message": why[:500] or None,
        "pending_since": iso(pod.metadata.creation_timestamp),
        "unsatisfiable": list(verdict.permanent) or None,
        "shortages": list(verdict.transient) or None,
        "events": event_evidence(events) or None,
        "autoscaler": refusal.message[:500] if refusal is not None else None,
    }
    return [
        make_finding(
            _pod_ref(pod), "Unschedulable", Severity.WARNING, message, evidence, caused_by=cause
        )
    ]


def _autoscaler_refusal(pod: Pod, ctx: RuleContext) -> tuple[Event | None, CauseRef | None]:
    """Cluster autoscaler or Karpenter said it will not add a node for this pod, and why."""
    meta = pod.metadata
    for event in reversed(ctx.recent_events("Pod", meta.namespace, meta.name, SCALE_UP_EVENTS)):
        source = event.reporting_component or event.source.component
        text = event.message
        if event.reason == "NotTriggerScaleUp" and "max node group size reached" in text:
            cause = CauseRef(
                kind="ClusterAutoscaler",
                namespace="kube-system",
                name="cluster-autoscaler",
                reason="MaxNodeGroupSizeReached",
            )
            return event, cause
        if event.reason == "NotTriggerScaleUp":
            return event, None
        pool = nodepool(text)
        if source.startswith("karpenter") and pool is not None and "limit" in text:
            cause = CauseRef(kind="NodePool", namespace="", name=pool, reason="LimitsExceeded")
            return event, cause
    return None, None


def _zone_conflict_cause(pod: Pod, ctx: RuleContext) -> CauseRef | None:
    """The bound volume pinned to another zone: a StatefulSet claim is ``<template>-<pod>``."""
    suffix = f"-{pod.metadata.name}"
    for pvc in ctx.snapshot.pvcs:
        if pvc.metadata.namespace != pod.metadata.namespace or not pvc.spec.volume_name:
            continue
        if pvc.metadata.name.endswith(suffix):
            return CauseRef(
                kind="PersistentVolume",
                namespace="",
                name=pvc.spec.volume_name,
                reason="VolumeNodeAffinityConflict",
            )
    return None


def check_evicted(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Evicted by the kubelet (resource pressure) or terminated by a graceful node shutdown."""
    if pod.status.phase != "Failed" or pod.status.reason not in EVICTION_REASONS:
        return []
    return [_evicted(pod, ctx)]


def check_failed_pod(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Pods the kubelet rejected or that failed outside a Job, with no more specific reason."""
    if pod.status.phase != "Failed" or _is_job_pod(pod) or pod.status.reason in EVICTION_REASONS:
        return []
    reason = pod.status.reason or "Error"
    message = f"pod {pod.metadata.name} failed ({reason}): {pod.status.message[:300]}"
    exit_codes = {
        s.name: s.state.terminated.exit_code
        for s in pod.status.container_statuses
        if s.state.terminated is not None
    }
    evidence: dict[str, Any] = {
        "pod": pod.metadata.name,
        "status_reason": reason,
        "status_message": pod.status.message[:500] or None,
        "exit_codes": exit_codes or None,
    }
    return [make_finding(_pod_ref(pod), "PodFailed", Severity.WARNING, message, evidence)]


def _evicted(pod: Pod, ctx: RuleContext) -> Finding:
    """A warning while its owner lives (the node was under pressure); info once it is debris."""
    ready = condition(pod.status.conditions, "Ready")
    when = ready.last_transition_time if ready else pod.status.start_time
    owner_gone = _owner_gone(pod, ctx)
    severity = Severity.INFO if owner_gone else Severity.WARNING
    node = pod.spec.node_name
    message = f"pod {pod.metadata.name} was evicted from node {node or '(unknown)'}: "
    message += pod.status.message[:300]
    evidence = {
        "pod": pod.metadata.name,
        "node": node or None,
        "status_message": pod.status.message[:500],
        "evicted_at": iso(when),
        "owner_gone": owner_gone or None,
    }
    cause = (
        CauseRef(kind="Node", namespace="", name=node, reason="NodePressure")
        if node and not owner_gone
        else None
    )
    return make_finding(_pod_ref(pod), "Evicted", severity, message, evidence, caused_by=cause)


def _owner_gone(pod: Pod, ctx: RuleContext) -> bool:
    """The pod's controller no longer exists, or is an old ReplicaSet scaled to zero.

    Judged only when the snapshot holds objects of the owner's kind; otherwise unknown, which
    counts as alive (a dump of pods alone must not hide evictions).
    """
    owner = pod.metadata.controller_ref()
    if owner is None:
        return False
    alive = ctx.live_controllers.get(owner.kind)
    return alive is not None and (pod.metadata.namespace, owner.name) not in alive


def check_sandbox_failed(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """The runtime cannot create the pod's sandbox, most often: the CNI has no IP to give."""
    if pod.status.phase != "Pending" or pod_ready(pod):
        return []
    meta = pod.metadata
    events = ctx.recent_events("Pod", meta.namespace, meta.name, SANDBOX_EVENTS)
    if not events:
        return []
    grace = ctx.startup_grace(meta.namespace, meta.labels)
    if not ctx.older_than(meta.creation_timestamp, grace):
        return []  # a CNI warming up on a fresh node retries within seconds
    latest = events[-1].message
    no_ips = cni_out_of_ips(latest)
    node = pod.spec.node_name
    cause: CauseRef | None = None
    if no_ips:
        cni_known = any(
            d.metadata.namespace == CNI_DAEMONSET.namespace
            and d.metadata.name == CNI_DAEMONSET.name
            for d in ctx.snapshot.daemonsets
        )
        if cni_known or "aws-cni" in latest:
            cause = CauseRef(
                kind="DaemonSet",
                namespace=CNI_DAEMONSET.namespace,
                name=CNI_DAEMONSET.name,
                reason="IPAddressesExhausted",
            )
        elif node:
            cause = CauseRef(kind="Node", namespace="", name=node, reason="IPAddressesExhausted")
    what = "no IP address is left for it" if no_ips else "its sandbox cannot be created"
    message = f"pod {meta.name} cannot start on node {node or '(unknown)'}: {what}: {latest[:300]}"
    evidence = {
        "pod": meta.name,
        "node": node or None,
        "ip_exhaustion": no_ips or None,
        "events": event_evidence(events),
    }
    return [
        make_finding(
            _pod_ref(pod),
            "FailedCreatePodSandBox",
            Severity.CRITICAL,
            message,
            evidence,
            caused_by=cause,
        )
    ]


def check_failed_mount(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Volumes that will not mount keep the pod in ContainerCreating."""
    if pod.status.phase not in ("Pending", "Running") or pod_ready(pod):
        return []
    events = ctx.recent_events("Pod", pod.metadata.namespace, pod.metadata.name, MOUNT_EVENTS)
    if not events:
        return []
    message = f"volumes of pod {pod.metadata.name} fail to mount: {events[-1].message[:300]}"
    evidence = {"pod": pod.metadata.name, "events": event_evidence(events)}
    severity = Severity.CRITICAL if pod.status.phase == "Pending" else Severity.WARNING
    cause = next((c for e in reversed(events) if (c := volume_cause(e.message))), None)
    return [
        make_finding(_pod_ref(pod), "FailedMount", severity, message, evidence, caused_by=cause)
    ]


def check_terminating(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Deletion requested, grace period over, and the pod is still there."""
    deleted = pod.metadata.deletion_timestamp
    if deleted is None or not ctx.older_than(deleted, STUCK_TERMINATING):
        return []
    message = f"pod {pod.metadata.name} is stuck terminating since {deleted.isoformat()}"
    evidence = {
        "pod": pod.metadata.name,
        "deletion_timestamp": iso(deleted),
        "node": pod.spec.node_name or None,
        "finalizers": list(pod.metadata.finalizers) or None,
    }
    return [make_finding(_pod_ref(pod), "Terminating", Severity.WARNING, message, evidence)]


def check_not_ready(pod: Pod, ctx: RuleContext) -> list[Finding]:
    """Not ready for longer than the startup grace, with no more specific explanation."""
    if pod.status.phase not in ("Pending", "Running", "Unknown") or pod_ready(pod):
        return []
    statuses = pod.status.container_statuses
    if (
        pod.spec.restart_policy == "Never"
        and statuses
        and all(s.state.terminated is not None for s in statuses)
    ):
        return []  # every container finished and none restarts: a completing pod
    ready = condition(pod.status.conditions, "Ready")
    since = (ready.last_transition_time if ready else None) or pod.metadata.creation_timestamp
    grace = ctx.startup_grace(pod.metadata.namespace, pod.metadata.labels)
    if not ctx.older_than(since, grace):
        return []
    unready = [s.name for s in pod.status.container_statuses if not s.ready]
    waiting = {
        s.name: s.state.waiting.reason
        for s in pod.status.container_statuses
        if s.state.waiting is not None
    }
    message = (
        f"pod {pod.metadata.name} is not ready ({pod.status.phase}) since"
        f" {since.isoformat() if since else 'unknown'}"
    )
    if unready:
        message += f"; unready containers: {', '.join(unready)}"
    evidence = {
        "pod": pod.metadata.name,
        "phase": pod.status.phase,
        "not_ready_since": iso(since),
        "ready_reason": ready.reason if ready and ready.reason else None,
        "unready_containers": unready or None,
        "waiting": waiting or None,
        "events": event_evidence(
            ctx.recent_events("Pod", pod.metadata.namespace, pod.metadata.name)
        )
        or None,
    }
    return [make_finding(_pod_ref(pod), "PodNotReady", Severity.WARNING, message, evidence)]


SPECIFIC_CHECKS: tuple[Callable[[Pod, RuleContext], list[Finding]], ...] = (
    check_waiting_containers,
    check_cannot_run,
    check_failed_init,
    check_oom_killed,
    check_high_restarts,
    check_unschedulable,
    check_evicted,
    check_failed_mount,
    check_sandbox_failed,
)
# Only when nothing more specific explains the pod.
FALLBACK_CHECKS: tuple[Callable[[Pod, RuleContext], list[Finding]], ...] = (
    check_failed_pod,
    check_not_ready,
)


def _quietly_healthy(pod: Pod, ctx: RuleContext) -> bool:
    """Running, ready, every container up and no recent restart: no check can fire.

    Most pods of a cluster look like this; skipping them keeps large clusters cheap.
    """
    if pod.status.phase != "Running" or not pod_ready(pod):
        return False
    # Sidecars are init containers that keep running; one of them may be backing off.
    if any(s.state.waiting is not None for s in pod.status.init_container_statuses):
        return False
    for status in pod.status.container_statuses:
        if not status.ready or status.state.running is None:
            return False
        last = status.last_state.terminated
        if last is not None and not ctx.older_than(last.finished_at, RECENT_RESTART):
            return False
        if last is not None and last.finished_at is None:
            return False
    return True


def pod_findings(ctx: RuleContext) -> list[Finding]:
    """All pod findings; PodFailed and PodNotReady only when nothing more specific applies."""
    found: list[Finding] = []
    for pod in ctx.snapshot.pods:
        if pod.status.phase == "Succeeded":
            continue  # completed Job pods are the happy path
        if pod.metadata.deletion_timestamp is not None:
            found.extend(check_terminating(pod, ctx))
            continue
        if _quietly_healthy(pod, ctx):
            continue
        specific = [f for check in SPECIFIC_CHECKS for f in check(pod, ctx)]
        found.extend(specific or [f for check in FALLBACK_CHECKS for f in check(pod, ctx)])
    return found
