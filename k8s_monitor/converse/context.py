"""What one cycle hands to the model layer: the deterministic results it must explain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.cluster.snapshot import ClusterSnapshot


@dataclass(frozen=True)
class CycleContext:
    """One cycle's inputs, already redacted at collection and analysed deterministically."""

    cycle: int
    now: datetime
    cluster: str
    snapshot: ClusterSnapshot
    findings: list[Finding] = field(default_factory=list)
    update: LedgerUpdate | None = None
    ledger: Ledger = field(default_factory=Ledger)
    # Fingerprints of new or worsened incidents escalated SEV-1/SEV-2 by the rules, worst
    # first: the ones the model may investigate with tools.
    urgent: tuple[str, ...] = ()

    @property
    def ledger_update(self) -> LedgerUpdate:
        return self.update if self.update is not None else LedgerUpdate(cycle=self.cycle)

    @property
    def known_fingerprints(self) -> set[str]:
        known = set(self.ledger.incidents)
        known.update(f.fingerprint for f in self.findings)
        update = self.ledger_update
        for incident in [*update.open, *update.resolved]:
            known.add(incident.fingerprint)
        return known
