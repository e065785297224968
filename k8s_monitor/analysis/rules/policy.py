"""Policy rules: disruption budgets, quotas, namespaces stuck deleting.

kubernetes-mixin equivalents: KubePdbNotEnoughHealthyPods, KubeQuotaExceeded (and FullyUsed).
"""

from __future__ import annotations

from datetime import timedelta

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules.context import RuleContext, iso, make_finding, ref
from k8s_monitor.analysis.rules.quantity import parse_quantity
from k8s_monitor.cluster.snapshot import Namespace, PodDisruptionBudget, ResourceQuota

STUCK_TERMINATING = timedelta(minutes=10)


def check_pdb(pdb: PodDisruptionBudget, ctx: RuleContext) -> list[Finding]:
    status = pdb.status
    if status.expected_pods == 0 or status.current_healthy >= status.desired_healthy:
        return []
    meta = pdb.metadata
    message = (
        f"disruption budget {meta.name} has {status.current_healthy} healthy pods,"
        f" needs {status.desired_healthy}"
    )
    evidence = {
        "current_healthy": status.current_healthy,
        "desired_healthy": status.desired_healthy,
        "expected_pods": status.expected_pods,
    }
    subject = ref("PodDisruptionBudget", meta.namespace, meta.name)
    return [make_finding(subject, "PDBNotEnoughHealthyPods", Severity.WARNING, message, evidence)]


def check_pdb_blocks_disruption(pdb: PodDisruptionBudget, ctx: RuleContext) -> list[Finding]:
    """Every pod healthy and still 0 disruptions allowed: no drain or node upgrade can pass.

    ``minAvailable`` equal to the replica count (or ``maxUnavailable: 0``) blocks each eviction
    forever; node group upgrades and Karpenter consolidation then stall on the node.
    """
    status = pdb.status
    if status.expected_pods == 0 or status.disruptions_allowed > 0:
        return []
    if status.current_healthy < status.expected_pods:
        # Some pod is down: that pod is the problem (and PDBNotEnoughHealthyPods may say so),
        # not the budget, which would allow a disruption once the pod is back.
        return []
    meta = pdb.metadata
    spec = pdb.spec
    setting = (
        f"minAvailable {spec.min_available}"
        if spec.min_available is not None
        else f"maxUnavailable {spec.max_unavailable}"
    )
    message = (
        f"disruption budget {meta.name} allows 0 disruptions with all {status.current_healthy}"
        f" pods healthy ({setting} of {status.expected_pods}): it blocks every node drain"
    )
    evidence = {
        "min_available": spec.min_available,
        "max_unavailable": spec.max_unavailable,
        "current_healthy": status.current_healthy,
        "desired_healthy": status.desired_healthy,
        "expected_pods": status.expected_pods,
        "disruptions_allowed": status.disruptions_allowed,
    }
    subject = ref("PodDisruptionBudget", meta.namespace, meta.name)
    return [make_finding(subject, "PDBBlocksDisruption", Severity.WARNING, message, evidence)]


def _exhausted(quota: ResourceQuota) -> dict[str, dict[str, str]]:
    full: dict[str, dict[str, str]] = {}
    for resource, hard_text in sorted(quota.status.hard.items()):
        used_text = quota.status.used.get(resource)
        if used_text is None:
            continue
        try:
            hard, used = parse_quantity(hard_text), parse_quantity(used_text)
        except ValueError:
            continue
        if hard > 0 and used >= hard:
            full[resource] = {"used": used_text, "hard": hard_text}
    return full


def check_quota(quota: ResourceQuota, ctx: RuleContext) -> list[Finding]:
    """At 100% new pods are refused, so full is already a finding."""
    full = _exhausted(quota)
    if not full:
        return []
    meta = quota.metadata
    listed = ", ".join(f"{r} {v['used']}/{v['hard']}" for r, v in full.items())
    message = f"quota {meta.name} in {meta.namespace} is exhausted: {listed}"
    subject = ref("ResourceQuota", meta.namespace, meta.name)
    return [make_finding(subject, "QuotaExceeded", Severity.WARNING, message, {"resources": full})]


def check_namespace_terminating(ns: Namespace, ctx: RuleContext) -> list[Finding]:
    deleted = ns.metadata.deletion_timestamp
    if ns.status.phase != "Terminating" or not ctx.older_than(deleted, STUCK_TERMINATING):
        return []
    message = f"namespace {ns.metadata.name} is stuck terminating"
    evidence = {"deletion_timestamp": iso(deleted), "finalizers": ns.metadata.finalizers or None}
    subject = ref("Namespace", "", ns.metadata.name)
    return [make_finding(subject, "Terminating", Severity.WARNING, message, evidence)]


def policy_findings(ctx: RuleContext) -> list[Finding]:
    snapshot = ctx.snapshot
    found = [f for pdb in snapshot.pdbs for f in check_pdb(pdb, ctx)]
    found += [f for pdb in snapshot.pdbs for f in check_pdb_blocks_disruption(pdb, ctx)]
    found += [f for quota in snapshot.resource_quotas for f in check_quota(quota, ctx)]
    found += [f for ns in snapshot.namespaces for f in check_namespace_terminating(ns, ctx)]
    return found
