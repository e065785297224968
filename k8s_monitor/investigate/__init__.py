"""Investigation: evidence playbooks per finding reason."""

from k8s_monitor.investigate.evidence import (
    EVIDENCE_KEY,
    EvidenceOutcome,
    EvidenceReads,
    gather_evidence,
)

__all__ = ["EVIDENCE_KEY", "EvidenceOutcome", "EvidenceReads", "gather_evidence"]
