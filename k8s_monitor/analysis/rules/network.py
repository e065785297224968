"""Service rules: a Service whose selector reaches no ready pod drops every request sent to it.

Ready endpoints are read from the Service's EndpointSlices (what kube-proxy routes to); when
EndpointSlices could not be read, the pods the selector matches stand in for them. A Service
whose pods exist but are not ready is a symptom of its workload (``caused_by``); a selector that
matches no pod at all is the Service's own fault (a label renamed in one place, not the other).
"""

from __future__ import annotations

from collections import defaultdict

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.context import RuleContext, make_finding, pod_ready, ref
from k8s_monitor.cluster.snapshot import EndpointSlice, ObjectMeta, Pod, Service

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MAX_LISTED = 20


def _unread(ctx: RuleContext, resource: str, group: str = "") -> bool:
    return any(g.resource == resource and g.api_group == group for g in ctx.snapshot.gaps)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _slices_by_service(slices: list[EndpointSlice]) -> dict[tuple[str, str], list[EndpointSlice]]:
    index: dict[tuple[str, str], list[EndpointSlice]] = defaultdict(list)
    for item in slices:
        service = item.metadata.labels.get(SERVICE_NAME_LABEL)
        if service:
            index[(item.metadata.namespace, service)].append(item)
    return index


def _ready_endpoints(slices: list[EndpointSlice]) -> int:
    # An absent ``ready`` means unknown, which consumers must treat as ready.
    return sum(1 for s in slices for e in s.endpoints if e.conditions.ready is not False)


def _scaled_to_zero(ctx: RuleContext) -> list[tuple[str, dict[str, str]]]:
    """(namespace, labels) of the Deployments and StatefulSets at zero replicas on purpose."""
    metas: list[tuple[ObjectMeta, int | None, dict[str, str]]] = [
        (d.metadata, d.spec.replicas, d.spec.selector.match_labels)
        for d in ctx.snapshot.deployments
    ]
    metas += [
        (s.metadata, s.spec.replicas, s.spec.selector.match_labels)
        for s in ctx.snapshot.statefulsets
    ]
    return [
        (meta.namespace, {**meta.labels, **match_labels})
        for meta, replicas, match_labels in metas
        if replicas == 0
    ]


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def check_service(
    service: Service,
    pods: list[Pod],
    slices: list[EndpointSlice] | None,
    ctx: RuleContext,
    idle: list[tuple[str, dict[str, str]]],
) -> list[Finding]:
    meta, selector = service.metadata, service.spec.selector
    if not selector or service.spec.type == "ExternalName":
        return []  # endpoints managed by hand or by DNS: nothing to compare with
    if slices and _ready_endpoints(slices) > 0:
        return []  # the common case, decided without scanning the namespace's pods
    selected = [
        p
        for p in pods
        if _selects(selector, p.metadata.labels)
        and p.status.phase not in ("Succeeded", "Failed")
        and p.metadata.deletion_timestamp is None
    ]
    if not slices and any(pod_ready(p) for p in selected):
        return []
    subject = ref("Service", meta.namespace, meta.name)
    grace = ctx.startup_grace(meta.namespace, meta.labels)
    if not selected:
        scaled_down = any(
            ns == meta.namespace and _selects(selector, labels) for ns, labels in idle
        )
        if scaled_down or not ctx.older_than(meta.creation_timestamp, grace):
            return []
        message = (
            f"service {meta.name} selects no pod ({_selector_text(selector)}): every request"
            " to it fails"
        )
        evidence = {"selector": dict(selector), "endpoint_slices": len(slices or [])}
        return [make_finding(subject, "ServiceSelectsNoPods", Severity.WARNING, message, evidence)]
    unready = ctx.unready_pods_past_grace(selected)
    if len(unready) < len(selected):
        return []  # some pods are still starting: their grace has not run out
    roots = sorted({ctx.owners.root_of("Pod", p.metadata) for p in selected})
    cause = _workload_cause(roots)
    message = (
        f"service {meta.name} has no ready endpoint: all {len(selected)} selected pod(s) are"
        f" not ready" + (f" ({cause.kind.lower()} {cause.name})" if cause else "")
    )
    evidence = {
        "selector": dict(selector),
        "selected_pods": len(selected),
        "ready_endpoints": 0,
        "source": "endpointslices" if slices else "pods",
        "workloads": [str(r) for r in roots[:MAX_LISTED]],
    }
    pod_refs = tuple(ref("Pod", meta.namespace, name) for name in unready[:MAX_LISTED])
    return [
        make_finding(
            subject,
            "ServiceNoReadyEndpoints",
            Severity.CRITICAL,
            message,
            evidence,
            (subject, *pod_refs),
            cause,
        )
    ]


def _workload_cause(roots: list[ObjectRef]) -> CauseRef | None:
    """The one workload behind the selected pods; None when the selector spans several."""
    if len(roots) != 1:
        return None
    root = roots[0]
    return CauseRef(kind=root.kind, namespace=root.namespace, name=root.name, reason="PodsNotReady")


def service_findings(ctx: RuleContext) -> list[Finding]:
    snapshot = ctx.snapshot
    if not snapshot.services or not snapshot.pods or _unread(ctx, "pods"):
        return []  # without the pods a Service's emptiness cannot be told
    slices_unread = _unread(ctx, "endpointslices", "discovery.k8s.io")
    slices = {} if slices_unread else _slices_by_service(snapshot.endpoint_slices)
    pods_by_namespace: dict[str, list[Pod]] = defaultdict(list)
    for pod in snapshot.pods:
        pods_by_namespace[pod.metadata.namespace].append(pod)
    idle = _scaled_to_zero(ctx)
    found: list[Finding] = []
    for service in snapshot.services:
        meta = service.metadata
        found += check_service(
            service,
            pods_by_namespace.get(meta.namespace, []),
            slices.get((meta.namespace, meta.name)),
            ctx,
            idle,
        )
    return found
