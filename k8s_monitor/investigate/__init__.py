"""Investigation: what the model (and ``ask``, and the MCP server) may read, and how.

- ``tools``: the read-only tool set: JSON-schema specs, input checks, dispatch to
  ``cluster.lookup.ClusterLookup``; failures come back as ``is_error`` results, never raised.
  The cycle's investigation loop (``converse.investigation``), ``k8s-monitor ask`` and
  ``k8s-monitor mcp`` all use it.
"""
