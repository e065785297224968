"""Reading the cluster: config loading, collection, the snapshot model, log tails, redaction."""
