"""Node rules, judged by each condition's *current* status, never its transition history.

kubernetes-mixin equivalents: KubeNodeNotReady, KubeNodeUnreachable, KubeNodePressure,
KubeletTooManyPods, plus cordoned nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules.context import RuleContext, condition, iso, make_finding, ref
from k8s_monitor.analysis.rules.quantity import parse_quantity
from k8s_monitor.cluster.snapshot import Node

# KubeNodeNotReady waits 15 minutes; one cycle is already minutes long, so a short window is
# enough to skip a kubelet restart without hiding a dead node for a whole extra cycle.
NOT_READY_FOR = timedelta(minutes=2)
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
TOO_MANY_PODS_RATIO = 0.95
# A drain (node group upgrade, Karpenter consolidation) cordons a node for minutes; longer than
# this and the node is forgotten, or its drain is stuck (often on a disruption budget).
FRESH_CORDON = timedelta(hours=1)


def check_not_ready(node: Node, ctx: RuleContext) -> list[Finding]:
    ready = condition(node.status.conditions, "Ready")
    if ready is None or ready.status == "True":
        return []
    if not ctx.older_than(ready.last_transition_time, NOT_READY_FOR):
        return []
    unreachable = ready.status == "Unknown" or any(
        t.key == UNREACHABLE_TAINT for t in node.spec.taints
    )
    state = "unreachable (kubelet stopped posting status)" if unreachable else "NotReady"
    message = f"node {node.metadata.name} is {state}: {ready.message[:300]}"
    evidence = {
        "status": ready.status,
        "reason": ready.reason or None,
        "message": ready.message[:500] or None,
        "since": iso(ready.last_transition_time),
        "last_heartbeat": iso(ready.last_heartbeat_time),
        "unreachable": unreachable,
        "pods_on_node": ctx.pods_by_node.get(node.metadata.name, 0),
    }
    return [
        make_finding(
            ref("Node", "", node.metadata.name),
            "NodeNotReady",
            Severity.CRITICAL,
            message,
            evidence,
        )
    ]


def check_pressure(node: Node, ctx: RuleContext) -> list[Finding]:
    active = [
        c for c in node.status.conditions if c.type in PRESSURE_CONDITIONS and c.status == "True"
    ]
    network = condition(node.status.conditions, "NetworkUnavailable")
    if network is not None and network.status == "True":
        active.append(network)
    if not active:
        return []
    names = ", ".join(c.type for c in active)
    message = f"node {node.metadata.name} reports {names}: {active[0].message[:300]}"
    evidence = {
        "conditions": [
            {
                "type": c.type,
                "reason": c.reason,
                "message": c.message[:300],
                "since": iso(c.last_transition_time),
            }
            for c in active
        ]
    }
    return [
        make_finding(
            ref("Node", "", node.metadata.name), "NodePressure", Severity.WARNING, message, evidence
        )
    ]


def check_unschedulable(node: Node, ctx: RuleContext) -> list[Finding]:
    """Cordoned nodes: info while a cordon seen to begin < 1h ago drains; a warning otherwise.

    An unknown start counts as old: a cordon nobody can date is one nobody is watching.
    """
    if not node.spec.unschedulable:
        return []
    taint = next((t for t in node.spec.taints if t.key == "node.kubernetes.io/unschedulable"), None)
    since = taint.time_added if taint is not None else None
    severity = Severity.INFO if ctx.within(since, FRESH_CORDON) else Severity.WARNING
    message = f"node {node.metadata.name} is cordoned (unschedulable)"
    evidence = {"since": iso(since), "pods_on_node": ctx.pods_by_node.get(node.metadata.name, 0)}
    return [
        make_finding(
            ref("Node", "", node.metadata.name), "NodeUnschedulable", severity, message, evidence
        )
    ]


def check_too_many_pods(node: Node, ctx: RuleContext) -> list[Finding]:
    capacity = node.status.allocatable.get("pods") or node.status.capacity.get("pods")
    if not capacity:
        return []
    try:
        limit = parse_quantity(capacity)
    except ValueError:
        return []
    running = ctx.pods_by_node.get(node.metadata.name, 0)
    if limit <= 0 or running < limit * TOO_MANY_PODS_RATIO:
        return []
    message = f"node {node.metadata.name} runs {running} pods of its {int(limit)} pod capacity"
    evidence = {"pods": running, "capacity": int(limit)}
    return [
        make_finding(
            ref("Node", "", node.metadata.name),
            "KubeletTooManyPods",
            Severity.WARNING,
            message,
            evidence,
        )
    ]


NODE_CHECKS: tuple[Callable[[Node, RuleContext], list[Finding]], ...] = (
    check_not_ready,
    check_pressure,
    check_unschedulable,
    check_too_many_pods,
)


def node_findings(ctx: RuleContext) -> list[Finding]:
    return [f for node in ctx.snapshot.nodes for check in NODE_CHECKS for f in check(node, ctx)]
