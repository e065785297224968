"""Investigation: what the monitor (and the model, ``ask`` and the MCP server) may read, and how.

- ``evidence``: the evidence stage: playbooks per finding reason, typed records on findings;
  extra reads through ``cluster.lookup.ClusterLookup`` within a request budget.
- ``tools``: the read-only tool set: JSON-schema specs, input checks, dispatch to
  ``cluster.lookup.ClusterLookup``; failures come back as ``is_error`` results, never raised.
  The cycle's investigation loop (``converse.investigation``), ``k8s-monitor ask`` and
  ``k8s-monitor mcp`` all use it.
"""

from k8s_monitor.investigate.evidence import (
    EVIDENCE_KEY,
    EvidenceOutcome,
    EvidenceReads,
    gather_evidence,
)

__all__ = ["EVIDENCE_KEY", "EvidenceOutcome", "EvidenceReads", "gather_evidence"]
