"""Autoscaling rules. kubernetes-mixin equivalents: KubeHpaMaxedOut, KubeHpaReplicasMismatch.

The mixin's 15-minute "for" is read from the HPA's own condition timestamps.
"""

from __future__ import annotations

from datetime import timedelta

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules.context import RuleContext, condition, iso, make_finding, ref
from k8s_monitor.cluster.snapshot import HorizontalPodAutoscaler

HPA_FOR = timedelta(minutes=15)


def _target(hpa: HorizontalPodAutoscaler) -> str:
    target = hpa.spec.scale_target_ref
    return f"{target.kind}/{target.name}"


def check_hpa_maxed_out(hpa: HorizontalPodAutoscaler, ctx: RuleContext) -> list[Finding]:
    spec, status = hpa.spec, hpa.status
    if spec.max_replicas <= 0 or status.current_replicas < spec.max_replicas:
        return []
    if spec.min_replicas is not None and spec.min_replicas >= spec.max_replicas:
        return []  # a fixed size chosen on purpose
    limited = condition(status.conditions, "ScalingLimited")
    if limited is not None:
        if limited.status != "True" or limited.reason not in ("TooManyReplicas", ""):
            return []
        if not ctx.older_than(limited.last_transition_time, HPA_FOR):
            return []
    elif status.desired_replicas < spec.max_replicas:
        return []
    meta = hpa.metadata
    message = (
        f"HPA {meta.name} has run {_target(hpa)} at its maximum of {spec.max_replicas} replicas"
        + (
            f" since {limited.last_transition_time.isoformat()}"
            if limited and limited.last_transition_time
            else ""
        )
    )
    evidence = {
        "target": _target(hpa),
        "current": status.current_replicas,
        "desired": status.desired_replicas,
        "max": spec.max_replicas,
        "since": iso(limited.last_transition_time) if limited else None,
    }
    subject = ref("HorizontalPodAutoscaler", meta.namespace, meta.name)
    return [make_finding(subject, "HPAMaxedOut", Severity.WARNING, message, evidence)]


def check_hpa_mismatch(hpa: HorizontalPodAutoscaler, ctx: RuleContext) -> list[Finding]:
    """The HPA cannot act: scaling inactive (no metrics) or unable to scale, long enough."""
    status = hpa.status
    broken = [
        c
        for c in (
            condition(status.conditions, "AbleToScale"),
            condition(status.conditions, "ScalingActive"),
        )
        if c is not None and c.status == "False" and ctx.older_than(c.last_transition_time, HPA_FOR)
    ]
    if not broken:
        return []
    # ScalingDisabled means the target was scaled to zero on purpose.
    if all(c.reason == "ScalingDisabled" for c in broken):
        return []
    meta = hpa.metadata
    message = f"HPA {meta.name} cannot scale {_target(hpa)}: {broken[0].message[:300]}"
    evidence = {
        "target": _target(hpa),
        "current": status.current_replicas,
        "desired": status.desired_replicas,
        "conditions": [
            {"type": c.type, "reason": c.reason, "message": c.message[:300]} for c in broken
        ],
    }
    subject = ref("HorizontalPodAutoscaler", meta.namespace, meta.name)
    return [make_finding(subject, "HPAReplicasMismatch", Severity.WARNING, message, evidence)]


def autoscaling_findings(ctx: RuleContext) -> list[Finding]:
    return [
        f
        for hpa in ctx.snapshot.hpas
        for check in (check_hpa_maxed_out, check_hpa_mismatch)
        for f in check(hpa, ctx)
    ]
