"""Workload rules: Deployments, StatefulSets and DaemonSets short of their desired replicas.

kubernetes-mixin equivalents: KubeDeploymentReplicasMismatch, KubeDeploymentRolloutStuck,
KubeStatefulSetReplicasMismatch, KubeStatefulSetUpdateNotRolledOut, KubeDaemonSetRolloutStuck,
KubeDaemonSetNotScheduled, KubeDaemonSetMisScheduled. The mixin's 15-minute "for" becomes: the
condition that says so has held for the startup grace, or the workload's own pods have been
unready for that long.
Workloads scaled to zero are never findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from k8s_monitor.analysis.findings import CauseRef, Finding, Severity
from k8s_monitor.analysis.rules.context import (
    RuleContext,
    condition,
    event_evidence,
    iso,
    make_finding,
    ref,
)
from k8s_monitor.analysis.rules.messages import failed_create_cause
from k8s_monitor.cluster.snapshot import (
    Condition,
    DaemonSet,
    Deployment,
    ObjectMeta,
    StatefulSet,
)


def _conditions(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [
        {
            "type": c.type,
            "status": c.status,
            "reason": c.reason,
            "message": c.message[:300],
            "since": iso(c.last_transition_time),
        }
        for c in conditions
    ]


def _with_pods(
    kind: str,
    meta: ObjectMeta,
    reason: str,
    severity: Severity,
    message: str,
    evidence: dict[str, Any],
    unready: Sequence[str],
    caused_by: CauseRef | None = None,
) -> Finding:
    """A finding about a workload that also names its unready pods."""
    subject = ref(kind, meta.namespace, meta.name)
    pods = (ref("Pod", meta.namespace, name) for name in unready)
    return make_finding(subject, reason, severity, message, evidence, (subject, *pods), caused_by)


def _severity(available: int) -> Severity:
    return Severity.CRITICAL if available == 0 else Severity.WARNING


# --- deployments -------------------------------------------------------------------------------


def check_deployment_unavailable(deploy: Deployment, ctx: RuleContext) -> list[Finding]:
    meta, spec, status = deploy.metadata, deploy.spec, deploy.status
    desired = 1 if spec.replicas is None else spec.replicas
    if desired == 0 or status.available_replicas >= desired:
        return []
    grace = ctx.startup_grace(meta.namespace, meta.labels)
    available = condition(status.conditions, "Available")
    failure = condition(status.conditions, "ReplicaFailure")
    pods = ctx.pods_of("Deployment", meta.namespace, meta.name)
    unready = ctx.unready_pods_past_grace(pods)
    progressing = condition(status.conditions, "Progressing")
    if available is not None and available.status == "False":
        held = ctx.older_than(available.last_transition_time, grace)
    elif pods:
        # Available stays True during a rolling update; only pods unready past grace count.
        held = bool(unready) or (failure is not None and failure.status == "True")
    else:
        # A dump without the pods: no progress for the grace period means it is stuck short.
        last_progress = (
            (progressing.last_update_time or progressing.last_transition_time)
            if progressing is not None
            else None
        )
        held = ctx.older_than(last_progress, grace)
    if not held or not ctx.older_than(meta.creation_timestamp, grace):
        return []
    message = f"deployment {meta.name} has {status.available_replicas}/{desired} replicas available"
    cause: CauseRef | None = None
    if failure is not None and failure.status == "True":
        message += f"; cannot create pods: {failure.message[:200]}"
        cause = failed_create_cause(failure.message, meta.namespace)
    evidence = {
        "desired": desired,
        "available": status.available_replicas,
        "ready": status.ready_replicas,
        "updated": status.updated_replicas,
        "unready_pods": unready or None,
        "conditions": _conditions(status.conditions) or None,
    }
    return [
        _with_pods(
            "Deployment",
            meta,
            "DeploymentUnavailable",
            _severity(status.available_replicas),
            message,
            evidence,
            unready,
            cause,
        )
    ]


def check_rollout_stuck(deploy: Deployment, ctx: RuleContext) -> list[Finding]:
    meta, status = deploy.metadata, deploy.status
    if deploy.spec.paused or deploy.spec.replicas == 0:
        return []
    progressing = condition(status.conditions, "Progressing")
    # Progressing=False means no progress at all: the deadline passed, or pods cannot be created.
    if progressing is None or progressing.status != "False":
        return []
    message = f"rollout of deployment {meta.name} is stuck: {progressing.message[:300]}"
    evidence = {
        "desired": deploy.spec.replicas,
        "updated": status.updated_replicas,
        "available": status.available_replicas,
        "generation": meta.generation or None,
        "observed_generation": status.observed_generation or None,
        "conditions": _conditions(status.conditions),
    }
    return [
        make_finding(
            ref("Deployment", meta.namespace, meta.name),
            "RolloutStuck",
            Severity.WARNING,
            message,
            evidence,
        )
    ]


# --- statefulsets and daemonsets ---------------------------------------------------------------


def check_statefulset_unavailable(sts: StatefulSet, ctx: RuleContext) -> list[Finding]:
    meta, status = sts.metadata, sts.status
    desired = 1 if sts.spec.replicas is None else sts.spec.replicas
    if desired == 0 or status.ready_replicas >= desired:
        return []
    grace = ctx.startup_grace(meta.namespace, meta.labels)
    pods = ctx.pods_of("StatefulSet", meta.namespace, meta.name)
    unready = ctx.unready_pods_past_grace(pods)
    # Without pods in the snapshot (a bare dump) the status alone has to speak.
    if pods and not unready and len(pods) >= desired:
        return []
    if not ctx.older_than(meta.creation_timestamp, grace):
        return []
    message = f"statefulset {meta.name} has {status.ready_replicas}/{desired} replicas ready"
    evidence = {
        "desired": desired,
        "ready": status.ready_replicas,
        "current": status.current_replicas,
        "updated": status.updated_replicas,
        "current_revision": status.current_revision or None,
        "update_revision": status.update_revision or None,
        "unready_pods": unready or None,
        "events": event_evidence(ctx.recent_events("StatefulSet", meta.namespace, meta.name))
        or None,
    }
    return [
        _with_pods(
            "StatefulSet",
            meta,
            "StatefulSetUnavailable",
            _severity(status.ready_replicas),
            message,
            evidence,
            unready,
        )
    ]


def check_statefulset_rollout(sts: StatefulSet, ctx: RuleContext) -> list[Finding]:
    """KubeStatefulSetUpdateNotRolledOut: an update started and its pods do not come up."""
    meta, status = sts.metadata, sts.status
    desired = 1 if sts.spec.replicas is None else sts.spec.replicas
    updating = status.update_revision and status.current_revision != status.update_revision
    if desired == 0 or not updating or status.updated_replicas >= desired:
        return []
    unready = ctx.unready_pods_past_grace(ctx.pods_of("StatefulSet", meta.namespace, meta.name))
    if not unready:
        return []
    message = (
        f"update of statefulset {meta.name} to {status.update_revision} is stuck at"
        f" {status.updated_replicas}/{desired} pods"
    )
    evidence = {
        "current_revision": status.current_revision,
        "update_revision": status.update_revision,
        "updated": status.updated_replicas,
        "desired": desired,
        "unready_pods": unready,
    }
    return [
        _with_pods(
            "StatefulSet", meta, "RolloutStuck", Severity.WARNING, message, evidence, unready
        )
    ]


def check_daemonset_unavailable(ds: DaemonSet, ctx: RuleContext) -> list[Finding]:
    meta, status = ds.metadata, ds.status
    desired = status.desired_number_scheduled
    if desired == 0:
        return []
    not_scheduled = max(desired - status.current_number_scheduled, 0)
    unavailable = max(status.number_unavailable, desired - status.number_available)
    if not_scheduled == 0 and unavailable <= 0:
        return []
    pods = ctx.pods_of("DaemonSet", meta.namespace, meta.name)
    unready = ctx.unready_pods_past_grace(pods)
    grace = ctx.startup_grace(meta.namespace, meta.labels)
    if pods and not unready and not_scheduled == 0:
        return []  # a rolling update in progress: its new pods are still in their grace
    if not ctx.older_than(meta.creation_timestamp, grace):
        return []
    message = f"daemonset {meta.name} has {status.number_available}/{desired} pods available" + (
        f", {not_scheduled} not scheduled" if not_scheduled else ""
    )
    evidence = {
        "desired": desired,
        "scheduled": status.current_number_scheduled,
        "ready": status.number_ready,
        "available": status.number_available,
        "updated": status.updated_number_scheduled,
        "not_scheduled": not_scheduled or None,
        "unready_pods": unready or None,
    }
    return [
        _with_pods(
            "DaemonSet",
            meta,
            "DaemonSetUnavailable",
            _severity(status.number_available),
            message,
            evidence,
            unready,
        )
    ]


def check_daemonset_misscheduled(ds: DaemonSet, ctx: RuleContext) -> list[Finding]:
    meta, status = ds.metadata, ds.status
    if status.number_misscheduled <= 0:
        return []
    message = (
        f"daemonset {meta.name} runs {status.number_misscheduled} pods on nodes where it should not"
    )
    evidence = {"misscheduled": status.number_misscheduled}
    return [
        make_finding(
            ref("DaemonSet", meta.namespace, meta.name),
            "DaemonSetMisScheduled",
            Severity.WARNING,
            message,
            evidence,
        )
    ]


DEPLOYMENT_CHECKS: tuple[Callable[[Deployment, RuleContext], list[Finding]], ...] = (
    check_deployment_unavailable,
    check_rollout_stuck,
)
STATEFULSET_CHECKS: tuple[Callable[[StatefulSet, RuleContext], list[Finding]], ...] = (
    check_statefulset_unavailable,
    check_statefulset_rollout,
)
DAEMONSET_CHECKS: tuple[Callable[[DaemonSet, RuleContext], list[Finding]], ...] = (
    check_daemonset_unavailable,
    check_daemonset_misscheduled,
)


def workload_findings(ctx: RuleContext) -> list[Finding]:
    snapshot = ctx.snapshot
    found = [f for d in snapshot.deployments for c in DEPLOYMENT_CHECKS for f in c(d, ctx)]
    found += [f for s in snapshot.statefulsets for c in STATEFULSET_CHECKS for f in c(s, ctx)]
    found += [f for d in snapshot.daemonsets for c in DAEMONSET_CHECKS for f in c(d, ctx)]
    return found
