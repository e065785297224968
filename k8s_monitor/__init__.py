"""k8s-monitor: watches a Kubernetes cluster, asks Claude what it means, and remembers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("k8s-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
