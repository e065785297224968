"""Storage rules: claims that never bind or lost their volume, volumes that failed.

kubernetes-mixin equivalent: KubePersistentVolumeErrors (PV phase Failed/Pending); claim phases
are what the API adds. Volume fill levels need kubelet metrics, which the snapshot does not hold.
"""

from __future__ import annotations

from datetime import timedelta

from k8s_monitor.analysis.findings import CauseRef, Finding, Severity
from k8s_monitor.analysis.rules.context import (
    RuleContext,
    event_evidence,
    iso,
    make_finding,
    ref,
)
from k8s_monitor.analysis.rules.messages import missing_storage_class
from k8s_monitor.cluster.snapshot import Event, PersistentVolume, PersistentVolumeClaim

STUCK_TERMINATING = timedelta(minutes=5)
WAITING_FOR_CONSUMER = "WaitForFirstConsumer"


def check_pvc_pending(pvc: PersistentVolumeClaim, ctx: RuleContext) -> list[Finding]:
    meta = pvc.metadata
    if pvc.status.phase != "Pending" or meta.deletion_timestamp is not None:
        return []
    if not ctx.older_than(meta.creation_timestamp, ctx.startup_grace(meta.namespace, meta.labels)):
        return []
    events = ctx.recent_events("PersistentVolumeClaim", meta.namespace, meta.name)
    if events and all(e.reason == WAITING_FOR_CONSUMER for e in events):
        return []  # binding waits for the first pod on purpose
    why = events[-1].message[:300] if events else "no volume bound"
    missing = _missing_class(pvc, events, ctx)
    if missing is not None:
        why = f"storage class {missing!r} does not exist"
    message = f"claim {meta.name} is Pending: {why}"
    evidence = {
        "storage_class": pvc.spec.storage_class_name,
        "storage_class_missing": True if missing is not None else None,
        "created": iso(meta.creation_timestamp),
        "events": event_evidence(events) or None,
    }
    cause = (
        CauseRef(kind="StorageClass", namespace="", name=missing, reason="NotFound")
        if missing is not None
        else None
    )
    subject = ref("PersistentVolumeClaim", meta.namespace, meta.name)
    return [
        make_finding(subject, "PVCPending", Severity.WARNING, message, evidence, caused_by=cause)
    ]


def _missing_class(pvc: PersistentVolumeClaim, events: list[Event], ctx: RuleContext) -> str | None:
    """The StorageClass the claim names that does not exist, by the list or the provisioner."""
    for event in reversed(events):
        named = missing_storage_class(event.message)
        if named is not None:
            return named
    wanted = pvc.spec.storage_class_name
    classes = ctx.snapshot.storage_classes
    # An empty list is not proof: a dump without StorageClasses, or the list was forbidden.
    if not wanted or not classes:
        return None
    return None if any(c.metadata.name == wanted for c in classes) else wanted


def check_pvc_lost(pvc: PersistentVolumeClaim, ctx: RuleContext) -> list[Finding]:
    meta = pvc.metadata
    if pvc.status.phase != "Lost":
        return []
    message = f"claim {meta.name} lost its volume {pvc.spec.volume_name or '(unknown)'}"
    evidence = {
        "volume": pvc.spec.volume_name or None,
        "storage_class": pvc.spec.storage_class_name,
    }
    subject = ref("PersistentVolumeClaim", meta.namespace, meta.name)
    return [make_finding(subject, "PVCLost", Severity.CRITICAL, message, evidence)]


def check_pvc_terminating(pvc: PersistentVolumeClaim, ctx: RuleContext) -> list[Finding]:
    meta = pvc.metadata
    if meta.deletion_timestamp is None or not ctx.older_than(
        meta.deletion_timestamp, STUCK_TERMINATING
    ):
        return []
    message = f"claim {meta.name} is stuck terminating (still in use or held by a finalizer)"
    evidence = {
        "deletion_timestamp": iso(meta.deletion_timestamp),
        "finalizers": meta.finalizers or None,
    }
    subject = ref("PersistentVolumeClaim", meta.namespace, meta.name)
    return [make_finding(subject, "Terminating", Severity.WARNING, message, evidence)]


def check_pv_failed(pv: PersistentVolume, ctx: RuleContext) -> list[Finding]:
    if pv.status.phase != "Failed":
        return []
    name = pv.metadata.name
    claim = pv.spec.claim_ref
    message = f"volume {name} failed: {pv.status.message[:300] or pv.status.reason}"
    evidence = {
        "reason": pv.status.reason or None,
        "message": pv.status.message[:500] or None,
        "claim": f"{claim.namespace}/{claim.name}" if claim is not None else None,
    }
    return [
        make_finding(
            ref("PersistentVolume", "", name), "PVFailed", Severity.WARNING, message, evidence
        )
    ]


def storage_findings(ctx: RuleContext) -> list[Finding]:
    found: list[Finding] = []
    for pvc in ctx.snapshot.pvcs:
        found += check_pvc_pending(pvc, ctx)
        found += check_pvc_lost(pvc, ctx)
        found += check_pvc_terminating(pvc, ctx)
    for pv in ctx.snapshot.pvs:
        found += check_pv_failed(pv, ctx)
    return found
