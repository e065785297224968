"""The front half of a cycle: snapshot -> findings -> evidence -> causes -> incidents.

The daemon's cycle and ``compare`` both call ``observe``, so their incidents are keyed the same
way (by root cause). Nothing is saved here: what to do with the new ledger is the caller's.
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
    findings = analyze(snapshot, now=now, catalog=catalog)
    # Kinds collection could not list; an evidence read that fails hides no finding.
    unobserved = unobserved_kinds(snapshot.gaps)
    evidence = gather_evidence(
        findings, snapshot, previous=previous, reads=reads, now=now, redact=redact
    )
    if evidence.gaps:
        snapshot = msgspec.structs.replace(snapshot, gaps=[*snapshot.gaps, *evidence.gaps])
    findings = link_causes(evidence.findings, snapshot, now=now)
    ledger, update = update_ledger(
        previous, findings, now=now, resolve_after=resolve_after, unobserved_kinds=unobserved
    )
    stats = EvidenceStats(
        investigated=evidence.investigated,
        requests=evidence.requests,
        seconds=round(evidence.seconds, 4),
    )
    return Observation(snapshot, findings, ledger, update, stats)
