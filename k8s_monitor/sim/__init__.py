"""A simulated cluster: a loopback Kubernetes API server replaying scenario files."""
