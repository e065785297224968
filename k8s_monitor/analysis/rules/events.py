"""Findings from events alone, for objects whose kind the snapshot does not hold.

Normally events only add evidence to findings about an object's current state: an old warning
about a pod that is healthy now is not news. But when a whole kind is missing (pods forbidden by
RBAC, or a ``kubectl get events`` dump), recent warning events are the only view there is. Such
findings are warnings at most, since the object's current state cannot be confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules.context import (
    EVENT_WINDOW,
    RuleContext,
    event_evidence,
    make_finding,
    ref,
)
from k8s_monitor.cluster.snapshot import Event

_CONFIG = re.compile(
    r"(secrets?|configmaps?) \"[^\"]+\" not found|couldn't find key", re.IGNORECASE
)
_PULL = re.compile(r"ErrImagePull|ImagePullBackOff|Failed to pull image|InvalidImageName")
_CANNOT_RUN = re.compile(r"executable file not found|OCI runtime|RunContainerError|StartError")


def _pod_reason(event: Event) -> str | None:
    reason, message = event.reason, event.message
    if reason == "BackOff":
        return "ImagePullBackOff" if "pulling image" in message else "CrashLoopBackOff"
    if reason in ("Failed", "InspectFailed"):
        if _CONFIG.search(message):
            return "CreateContainerConfigError"
        if _PULL.search(message):
            return "ImagePullBackOff"
        if _CANNOT_RUN.search(message):
            return "ContainerCannotRun"
        return None
    simple = {
        "FailedScheduling": "Unschedulable",
        "FailedMount": "FailedMount",
        "FailedAttachVolume": "FailedMount",
        "FailedCreatePodSandBox": "FailedCreatePodSandBox",
        "Evicted": "Evicted",
    }
    if reason in simple:
        return simple[reason]
    if reason == "Unhealthy" and message.startswith("Readiness probe failed"):
        return "PodNotReady"
    return None


_REASONS_BY_KIND: dict[str, Callable[[Event], str | None]] = {
    "Pod": _pod_reason,
    "PersistentVolumeClaim": lambda e: (
        "PVCPending" if e.reason in ("ProvisioningFailed", "FailedBinding") else None
    ),
    "Job": lambda e: (
        "JobFailed" if e.reason in ("BackoffLimitExceeded", "DeadlineExceeded") else None
    ),
    "HorizontalPodAutoscaler": lambda e: (
        "HPAReplicasMismatch"
        if e.reason in ("FailedGetResourceMetric", "FailedComputeMetricsReplicas")
        else None
    ),
}
_SNAPSHOT_LISTS = {
    "Pod": "pods",
    "PersistentVolumeClaim": "pvcs",
    "Job": "jobs",
    "HorizontalPodAutoscaler": "hpas",
}


def _missing_kinds(ctx: RuleContext) -> set[str]:
    return {kind for kind, attr in _SNAPSHOT_LISTS.items() if not getattr(ctx.snapshot, attr)}


def event_findings(ctx: RuleContext) -> list[Finding]:
    missing = _missing_kinds(ctx)
    grouped: dict[tuple[str, str, str, str], list[Event]] = {}
    for (kind, namespace, name), events in sorted(ctx.events.items()):
        if kind not in missing:
            continue
        for event in events:
            if event.type != "Warning" or not ctx.within(event.seen_at, EVENT_WINDOW):
                continue
            reason = _REASONS_BY_KIND[kind](event)
            if reason is not None:
                grouped.setdefault((kind, namespace, name, reason), []).append(event)
    found: list[Finding] = []
    for (kind, namespace, name, reason), events in grouped.items():
        latest = events[-1]
        message = f"{kind.lower()} {name}: {latest.reason}: {latest.message[:300]} (from events)"
        evidence = {"events": event_evidence(events), "source": "events"}
        found.append(
            make_finding(ref(kind, namespace, name), reason, Severity.WARNING, message, evidence)
        )
    return found
