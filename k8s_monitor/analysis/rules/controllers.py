"""Controllers that cannot create pods: FailedCreate events and a Deployment's ReplicaFailure.

A ReplicaSet, StatefulSet, DaemonSet or Job refused by the apiserver (a full ResourceQuota, an
admission webhook that denies or times out, a PriorityClass or ServiceAccount that does not
exist) never gets a pod to fail, so no pod rule sees it. The refusal text names the object in
the way; it becomes the finding's ``caused_by``. A Deployment whose new ReplicaSet is refused
while the old one still serves is a warning (a stuck rollout), and critical when nothing serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.context import (
    RuleContext,
    condition,
    event_evidence,
    make_finding,
    ref,
)
from k8s_monitor.analysis.rules.messages import failed_create_cause
from k8s_monitor.cluster.snapshot import DaemonSet, Deployment, Event, ReplicaSet, StatefulSet

FAILED_CREATE = frozenset({"FailedCreate"})
CONTROLLER_KINDS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob")
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class _Refusal:
    """One controller's recent refusals, resolved to the workload they belong to."""

    controller: ObjectRef
    root: ObjectRef
    events: list[Event]
    exists: bool


def _controller(kind: str, namespace: str, name: str, ctx: RuleContext) -> Any | None:
    lists: dict[str, list[Any]] = {
        "ReplicaSet": ctx.snapshot.replicasets,
        "StatefulSet": ctx.snapshot.statefulsets,
        "DaemonSet": ctx.snapshot.daemonsets,
        "Job": ctx.snapshot.jobs,
        "CronJob": ctx.snapshot.cronjobs,
    }
    return next(
        (
            item
            for item in lists[kind]
            if item.metadata.namespace == namespace and item.metadata.name == name
        ),
        None,
    )


def _still_short(controller: Any) -> bool:
    """The controller still lacks pods: an old refusal followed by success is history."""
    if isinstance(controller, ReplicaSet | StatefulSet):
        wanted = 1 if controller.spec.replicas is None else controller.spec.replicas
        return controller.status.replicas < wanted
    if isinstance(controller, DaemonSet):
        status = controller.status
        return status.current_number_scheduled < status.desired_number_scheduled
    return True  # Jobs and CronJobs: a refused run stays news for the event window


def _refusals(ctx: RuleContext) -> list[_Refusal]:
    found: list[_Refusal] = []
    for (kind, namespace, name), _ in sorted(ctx.events.items()):
        if kind not in CONTROLLER_KINDS:
            continue
        events = [
            e
            for e in ctx.recent_events(kind, namespace, name, FAILED_CREATE)
            if e.type == "Warning"
        ]
        if not events:
            continue
        obj = _controller(kind, namespace, name, ctx)
        controller = ref(kind, namespace, name)
        if obj is None:
            # An event about an object the snapshot does not hold: still news, said so.
            found.append(_Refusal(controller, controller, events, exists=False))
        elif _still_short(obj):
            root = ctx.owners.root_of(kind, obj.metadata)
            found.append(_Refusal(controller, root, events, exists=True))
    return found


def _deployment(root: ObjectRef, ctx: RuleContext) -> Deployment | None:
    if root.kind != "Deployment":
        return None
    return next(
        (
            d
            for d in ctx.snapshot.deployments
            if d.metadata.namespace == root.namespace and d.metadata.name == root.name
        ),
        None,
    )


def _serving_replicasets(deploy: Deployment, refused: str, ctx: RuleContext) -> list[ReplicaSet]:
    return [
        rs
        for rs in ctx.snapshot.replicasets
        if rs.metadata.namespace == deploy.metadata.namespace
        and rs.metadata.name != refused
        and rs.status.ready_replicas > 0
        and (owner := rs.metadata.controller_ref()) is not None
        and owner.kind == "Deployment"
        and owner.name == deploy.metadata.name
    ]


def _available(root: ObjectRef, ctx: RuleContext) -> int | None:
    """Pods of the workload that serve now; None when it cannot be told."""
    key = (root.namespace, root.name)
    if root.kind == "Deployment":
        deploy = _deployment(root, ctx)
        return deploy.status.available_replicas if deploy is not None else None
    if root.kind == "StatefulSet":
        return next(
            (
                s.status.ready_replicas
                for s in ctx.snapshot.statefulsets
                if (s.metadata.namespace, s.metadata.name) == key
            ),
            None,
        )
    if root.kind == "DaemonSet":
        return next(
            (
                d.status.number_available
                for d in ctx.snapshot.daemonsets
                if (d.metadata.namespace, d.metadata.name) == key
            ),
            None,
        )
    return None


def _finding(refusal: _Refusal, ctx: RuleContext) -> Finding:
    latest = refusal.events[-1]
    root, controller = refusal.root, refusal.controller
    cause = failed_create_cause(latest.message, controller.namespace)
    available = _available(root, ctx) if refusal.exists else None
    batch = root.kind in ("Job", "CronJob")
    severity = Severity.CRITICAL if available == 0 and not batch else Severity.WARNING
    what = f"{controller.kind.lower()} {controller.name}"
    made = "jobs" if controller.kind == "CronJob" else "pods"
    message = f"{what} cannot create {made}: {latest.message[:300]}"
    evidence: dict[str, Any] = {
        "controller": str(controller),
        "available": available,
        "events": event_evidence(refusal.events),
        "object_missing": None if refusal.exists else True,
    }
    deploy = _deployment(root, ctx)
    if deploy is not None and controller.kind == "ReplicaSet":
        serving = _serving_replicasets(deploy, controller.name, ctx)
        if serving:
            ready = sum(rs.status.ready_replicas for rs in serving)
            names = ", ".join(sorted(rs.metadata.name for rs in serving))
            message = (
                f"rollout of deployment {root.name} is blocked: new replicaset {controller.name}"
                f" cannot create pods ({latest.message[:240]}); {names} still serves"
                f" {ready} ready pod(s)"
            )
            evidence["serving_replicasets"] = sorted(rs.metadata.name for rs in serving)
    objects = tuple(dict.fromkeys((root, controller)))
    return make_finding(root, "FailedCreate", severity, message, evidence, objects, cause)


def _replica_failures(ctx: RuleContext, covered: set[ObjectRef]) -> list[Finding]:
    """Deployments whose ReplicaFailure condition says so, when no event did (dumps, old events)."""
    found: list[Finding] = []
    for deploy in ctx.snapshot.deployments:
        meta = deploy.metadata
        subject = ref("Deployment", meta.namespace, meta.name)
        failure = condition(deploy.status.conditions, "ReplicaFailure")
        if subject in covered or failure is None or failure.status != "True":
            continue
        if failure.reason and failure.reason != "FailedCreate":
            continue
        available = deploy.status.available_replicas
        severity = Severity.CRITICAL if available == 0 else Severity.WARNING
        message = f"deployment {meta.name} cannot create pods: {failure.message[:300]}"
        evidence = {"available": available, "condition_message": failure.message[:500]}
        found.append(
            make_finding(
                subject,
                "FailedCreate",
                severity,
                message,
                evidence,
                caused_by=failed_create_cause(failure.message, meta.namespace),
            )
        )
    return found


def controller_findings(ctx: RuleContext) -> list[Finding]:
    found = [_finding(refusal, ctx) for refusal in _refusals(ctx)]
    covered = {f.subject for f in found}
    return found + _replica_failures(ctx, covered)
