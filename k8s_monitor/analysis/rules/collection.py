"""Collection gaps: what the monitor could not see is a finding too, with the fix named."""

from __future__ import annotations

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules.context import RuleContext, make_finding, ref
from k8s_monitor.cluster.snapshot import CollectionGap


def _resource_name(gap: CollectionGap) -> str:
    return f"{gap.resource}.{gap.api_group}" if gap.api_group else gap.resource


def _fix(gap: CollectionGap) -> str:
    if gap.fix:
        return gap.fix
    if gap.reason == "forbidden":
        group = gap.api_group or '""'
        return (
            f"grant get, list and watch on {gap.resource} (apiGroups: [{group}]) to the"
            " monitor's ClusterRole"
        )
    return "check the apiserver and retry; the next cycle reads it again"


def check_gap(gap: CollectionGap, ctx: RuleContext) -> list[Finding]:
    resource = _resource_name(gap)
    fix = _fix(gap)
    status = f" (HTTP {gap.status})" if gap.status else ""
    message = f"could not read {resource}: {gap.reason}{status}; fix: {fix}"
    evidence = {
        "resource": gap.resource,
        "api_group": gap.api_group,
        "reason": gap.reason,
        "status": gap.status,
        "detail": gap.detail[:300] or None,
        "fix": fix,
    }
    # Forbidden is a lasting blind spot; timeouts and errors usually pass by themselves.
    severity = Severity.WARNING if gap.reason == "forbidden" else Severity.INFO
    subject = ref("APIResource", "", resource)
    return [make_finding(subject, "CollectionGap", severity, message, evidence)]


def collection_findings(ctx: RuleContext) -> list[Finding]:
    return [f for gap in ctx.snapshot.gaps for f in check_gap(gap, ctx)]
