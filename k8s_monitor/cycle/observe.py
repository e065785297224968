"""The front half of a cycle: snapshot -> findings -> evidence -> causes -> incidents.

The daemon's cycle and ``compare`` both call ``observe``, so their incidents are keyed the same
way (by root cause); ``analyze --from-file`` calls its first half, ``explain``. Nothing is saved
here: what to do with the new ledger is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec

from k8s_monitor.analysis.causes import link_causes
from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.resources import unobserved_kinds
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.investigate import EvidenceReads, gather_evidence
from k8s_monitor.redaction import Redact
from k8s_monitor.report import EvidenceStats


@dataclass(frozen=True)
class Observation:
    snapshot: ClusterSnapshot  # with the gaps the evidence reads ran into
    findings: list[Finding]  # with their evidence and causes
    ledger: Ledger  # the next ledger, not saved
    update: LedgerUpdate
    evidence: EvidenceStats


def observe(
    snapshot: ClusterSnapshot,
    previous: Ledger,
    *,
    now: datetime,
    catalog: ServiceCatalog,
    resolve_after: int,
    reads: EvidenceReads | None,
    redact: Redact,
) -> Observation:
    """What the snapshot says, in incidents; ``reads`` None: evidence from the snapshot only."""
    explained = explain(snapshot, previous, now=now, catalog=catalog, reads=reads, redact=redact)
    # Kinds collection could not list (not the evidence reads' gaps: a failed read hides no
    # finding).
    ledger, update = update_ledger(
        previous,
        explained.findings,
        now=now,
        resolve_after=resolve_after,
        unobserved_kinds=unobserved_kinds(snapshot.gaps),
    )
    return Observation(explained.snapshot, explained.findings, ledger, update, explained.evidence)


@dataclass(frozen=True)
class Explained:
    snapshot: ClusterSnapshot  # with the gaps the evidence reads ran into
    findings: list[Finding]  # with their evidence and causes
    evidence: EvidenceStats


def explain(
    snapshot: ClusterSnapshot,
    previous: Ledger,
    *,
    now: datetime,
    catalog: ServiceCatalog,
    reads: EvidenceReads | None,
    redact: Redact,
) -> Explained:
    """Findings with their evidence and causes, before any ledger (``analyze --from-file``)."""
    findings = analyze(snapshot, now=now, catalog=catalog)
    evidence = gather_evidence(
        findings, snapshot, previous=previous, reads=reads, now=now, redact=redact
    )
    if evidence.gaps:
        snapshot = msgspec.structs.replace(snapshot, gaps=[*snapshot.gaps, *evidence.gaps])
    stats = EvidenceStats(
        investigated=evidence.investigated,
        requests=evidence.requests,
        seconds=round(evidence.seconds, 4),
    )
    return Explained(snapshot, link_causes(evidence.findings, snapshot, now=now), stats)
