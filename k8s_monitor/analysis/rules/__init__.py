"""Deterministic analysis: ``analyze(snapshot, now=..., catalog=...) -> list[Finding]``.

Rules live by area (pods, nodes, workloads, jobs, storage, autoscaling, policy, collection), one
small function per check. This module runs them, groups pod findings under the workload that
owns the pods, applies the services catalog (service name, critical kube-system components,
known issues) and sorts the result so the same snapshot always yields the same list.

Pod findings under a Job or CronJob are capped at warning: a failing batch run waits for its
next attempt, a service that is down does not.

Checks and their kubernetes-mixin equivalents (the mixin's "for" windows become timestamps
read from the objects, compared with the injectable ``now``):

    reason                      mixin alert                          window
    CrashLoopBackOff            KubePodCrashLooping                  none: the state is the proof
    HighRestarts                KubePodCrashLooping (restart rate)   last restart < 1h ago
    OOMKilled                   (KubePodCrashLooping cause)          < 1h ago, or still unready
    ImagePullBackOff,
    CreateContainerConfigError,
    ContainerCannotRun,
    InitContainerFailed         KubeContainerWaiting                 none: failure states only
    PodNotReady                 KubePodNotReady                      startup grace (default 5m)
    Unschedulable               KubePodNotReady (Pending)            startup grace; none when no
                                                                     node can ever fit or the
                                                                     autoscaler refuses
    FailedCreatePodSandBox      -                                    startup grace (CNI out of IPs)
    FailedMount                 KubePodNotReady (ContainerCreating)  event < 1h, pod unready
    Evicted                     -                                    warning; info once the owner
                                                                     is gone (debris)
    PodFailed                   -                                    none
    Terminating                 -                                    5m past deletion
    DeploymentUnavailable       KubeDeploymentReplicasMismatch       grace on Available/pods
    RolloutStuck                KubeDeploymentRolloutStuck,          progressDeadlineSeconds;
                                KubeStatefulSetUpdateNotRolledOut    updated pods unready past grace
    StatefulSetUnavailable      KubeStatefulSetReplicasMismatch      pods unready past grace
    DaemonSetUnavailable        KubeDaemonSetRolloutStuck/NotScheduled  pods unready past grace
    DaemonSetMisScheduled       KubeDaemonSetMisScheduled            none
    JobFailed                   KubeJobFailed                        none; cleared by a later run
    JobNotCompleted             KubeJobNotCompleted                  12h
    HPAMaxedOut                 KubeHpaMaxedOut                      15m (ScalingLimited)
    HPAReplicasMismatch         KubeHpaReplicasMismatch              15m (AbleToScale/Active)
    FailedCreate                KubeDeploymentReplicasMismatch       event < 1h, still short
    ServiceNoReadyEndpoints,
    ServiceSelectsNoPods        -                                    startup grace
    CronJobNotScheduling        -                                    a missed run + 5m
    PDBNotEnoughHealthyPods     KubePdbNotEnoughHealthyPods          none
    PDBBlocksDisruption         -                                    none (0 allowed while healthy)
    PVCPending, PVCLost,
    PVFailed                    KubePersistentVolumeErrors           grace for Pending
    NodeNotReady                KubeNodeNotReady, KubeNodeUnreachable  2m
    NodePressure                KubeNodePressure                     none: current status only
    NodeUnschedulable           -                                    warning unless seen cordoned
                                                                     < 1h ago
    KubeletTooManyPods          KubeletTooManyPods                   none (>= 95% of capacity)
    QuotaExceeded               KubeQuotaExceeded / FullyUsed        none (>= 100%)
    CollectionGap               -                                    none
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import msgspec

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.autoscaling import autoscaling_findings
from k8s_monitor.analysis.rules.collection import collection_findings
from k8s_monitor.analysis.rules.context import RuleContext
from k8s_monitor.analysis.rules.controllers import controller_findings
from k8s_monitor.analysis.rules.events import event_findings
from k8s_monitor.analysis.rules.jobs import job_findings
from k8s_monitor.analysis.rules.network import service_findings
from k8s_monitor.analysis.rules.nodes import node_findings
from k8s_monitor.analysis.rules.pods import pod_findings
from k8s_monitor.analysis.rules.policy import policy_findings
from k8s_monitor.analysis.rules.storage import storage_findings
from k8s_monitor.analysis.rules.workloads import workload_findings
from k8s_monitor.analysis.services import (
    DEFAULT_SERVICE_NAME,
    SYSTEM_SERVICE_NAME,
    ServiceCatalog,
)
from k8s_monitor.cluster.snapshot import ClusterSnapshot

__all__ = ["AREAS", "analyze", "sort_findings"]

AREAS: tuple[Callable[[RuleContext], list[Finding]], ...] = (
    pod_findings,
    node_findings,
    workload_findings,
    controller_findings,
    service_findings,
    job_findings,
    storage_findings,
    autoscaling_findings,
    policy_findings,
    collection_findings,
    event_findings,
)
MAX_LISTED_PODS = 20
BATCH_KINDS = frozenset({"Job", "CronJob"})
# What "degraded" means for a critical kube-system component: it serves less than it should.
DEGRADED_REASONS = frozenset(
    {
        "DaemonSetUnavailable",
        "DeploymentUnavailable",
        "FailedCreate",
        "FailedCreatePodSandBox",
        "FailedMount",
        "HighRestarts",
        "OOMKilled",
        "PodNotReady",
        "RolloutStuck",
        "ServiceNoReadyEndpoints",
        "ServiceSelectsNoPods",
        "StatefulSetUnavailable",
        "Unschedulable",
    }
)


def analyze(
    snapshot: ClusterSnapshot, *, now: datetime, catalog: ServiceCatalog | None = None
) -> list[Finding]:
    """Every finding in ``snapshot`` as of ``now``: deterministic, grouped, sorted."""
    catalog = catalog or ServiceCatalog()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # API timestamps are UTC; naive times are taken as UTC
    ctx = RuleContext.build(snapshot, now, catalog)
    raw = [finding for area in AREAS for finding in area(ctx)]
    grouped = _merge_duplicates(_group_pods_by_owner(raw, ctx))
    labels = _labels_index(snapshot)
    return sort_findings(_apply_catalog(f, catalog, labels) for f in grouped)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity.rank, f.reason, f.subject))


# --- owner grouping ----------------------------------------------------------------------------


def _group_pods_by_owner(findings: list[Finding], ctx: RuleContext) -> list[Finding]:
    pods = {(p.metadata.namespace, p.metadata.name): p for p in ctx.snapshot.pods}
    groups: dict[tuple[str, ObjectRef], list[Finding]] = {}
    result: list[Finding] = []
    for finding in findings:
        subject = finding.subject
        pod = pods.get((subject.namespace, subject.name)) if subject.kind == "Pod" else None
        if pod is None:
            result.append(finding)
            continue
        root = ctx.owners.root_of("Pod", pod.metadata)
        if root == subject:
            result.append(finding)
            continue
        groups.setdefault((finding.reason, root), []).append(finding)
    result.extend(_grouped(root, members) for (_, root), members in groups.items())
    return result


def _grouped(root: ObjectRef, members: list[Finding]) -> Finding:
    members = sorted(members, key=lambda f: (-f.severity.rank, f.subject.name))
    worst = members[0]
    pods = sorted({f.subject for f in members})
    noun = "pod" if len(pods) == 1 else "pods"
    message = f"{len(pods)} {noun} of {root.kind} {root.name}: {worst.message}"
    evidence = {
        **worst.evidence,
        "affected_pods": len(pods),
        "pods": [p.name for p in pods[:MAX_LISTED_PODS]],
    }
    severity = worst.severity
    if root.kind in BATCH_KINDS and severity is Severity.CRITICAL:
        # A failing batch run waits for its next attempt; a service that is down does not.
        severity = Severity.WARNING
    # The cause most members share (evictions: the node most of them left).
    causes = Counter(f.caused_by for f in members if f.caused_by is not None)
    nodes = Counter(str(f.evidence["node"]) for f in members if f.evidence.get("node"))
    if len(nodes) > 1:
        evidence["nodes"] = dict(sorted(nodes.items()))
    return Finding(
        subject=root,
        reason=worst.reason,
        severity=severity,
        message=message,
        objects=tuple(pods),
        evidence=evidence,
        caused_by=causes.most_common(1)[0][0] if causes else None,
    )


def _merge_duplicates(findings: list[Finding]) -> list[Finding]:
    """One finding per fingerprint: a workload rule and its pods' rule may meet on one subject."""
    merged: dict[str, Finding] = {}
    for finding in findings:
        seen = merged.get(finding.fingerprint)
        if seen is None:
            merged[finding.fingerprint] = finding
            continue
        first, second = (
            (seen, finding) if seen.severity.rank >= finding.severity.rank else (finding, seen)
        )
        objects = tuple(sorted({*first.objects, *second.objects}))
        merged[finding.fingerprint] = msgspec.structs.replace(
            first, objects=objects, caused_by=first.caused_by or second.caused_by
        )
    return list(merged.values())


# --- catalog -----------------------------------------------------------------------------------


def _labels_index(snapshot: ClusterSnapshot) -> dict[ObjectRef, dict[str, str]]:
    index: dict[ObjectRef, dict[str, str]] = {}
    for kind, items in (
        ("Pod", snapshot.pods),
        ("Deployment", snapshot.deployments),
        ("StatefulSet", snapshot.statefulsets),
        ("DaemonSet", snapshot.daemonsets),
        ("Job", snapshot.jobs),
        ("CronJob", snapshot.cronjobs),
        ("PersistentVolumeClaim", snapshot.pvcs),
        ("HorizontalPodAutoscaler", snapshot.hpas),
    ):
        for item in items:
            meta = item.metadata
            index[ObjectRef(kind=kind, namespace=meta.namespace, name=meta.name)] = meta.labels
    return index


def _apply_catalog(
    finding: Finding, catalog: ServiceCatalog, labels: dict[ObjectRef, dict[str, str]]
) -> Finding:
    subject_labels = labels.get(finding.subject)
    if subject_labels is None:
        subject_labels = next((labels[o] for o in finding.objects if o in labels), {})
    service = catalog.match(finding.subject.namespace, subject_labels)
    evidence = dict(finding.evidence)
    if service.name not in (DEFAULT_SERVICE_NAME, SYSTEM_SERVICE_NAME):
        evidence["service"] = service.name
    severity = finding.severity
    subject = finding.subject
    if finding.reason in DEGRADED_REASONS and catalog.is_critical_component(
        subject.namespace, subject.name
    ):
        evidence["critical_component"] = True
        severity = Severity.CRITICAL
    known = service.known_issue_for(finding)
    if known is not None:
        # Known issues stay visible in reports but are never escalated past log-only.
        evidence["known_issue"] = known.reason
        severity = Severity.INFO
    return msgspec.structs.replace(finding, evidence=evidence, severity=severity)
