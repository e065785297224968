"""Building an authenticated Kubernetes ``ApiClient`` from settings.

Which credentials are used, in order:

1. ``KUBECONFIG`` when it is set explicitly (``KUBE_CONTEXT`` picks the context; default: the
   file's current context). An explicit choice wins, so a test or a developer pointing at the
   simulator is never silently redirected to the pod's own cluster.
2. The pod's service account (in-cluster): ``KUBERNETES_SERVICE_HOST``/``_PORT`` with the token
   and CA mounted under ``/var/run/secrets/kubernetes.io/serviceaccount/``. This is the normal
   case for the daemon.
3. ``~/.kube/config`` with ``KUBE_CONTEXT``.

**Bound service-account tokens rotate.** The kubelet rewrites the projected token file well
before the token expires (about hourly). The client keeps the token it read at start unless
told otherwise, so we install a refresh hook that re-reads the file whenever it changed (its
inode, size or mtime), checked on every request: a stat is microseconds, and a rotated token is
in use on the very next call rather than up to a minute later.

**EKS.** In the cluster, the pod uses its service account as above; no AWS credentials are
needed to read the Kubernetes API. From a workstation, ``aws eks update-kubeconfig --name
CLUSTER --region REGION`` writes a kubeconfig whose user runs an exec plugin::

    users:
    - name: eks-user
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1beta1
          command: aws
          args: ["eks", "get-token", "--cluster-name", "CLUSTER", "--region", "REGION"]

The official client runs that command, caches the token and runs it again when the token's
expiry passes, so such kubeconfigs work unchanged (the ``aws`` CLI must be on ``PATH`` and its
identity mapped to a Kubernetes user or group with the read-only ClusterRole).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import urllib3
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_HOST_ENV_NAME,
    SERVICE_PORT_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)
from kubernetes.config.kube_config import load_kube_config

from k8s_monitor.errors import ConfigurationError

if TYPE_CHECKING:
    from k8s_monitor.config import Settings

log = structlog.get_logger(__name__)

DEFAULT_KUBECONFIG = Path("~/.kube/config")


@dataclass
class ServiceAccountToken:
    """A bearer token read from a file, re-read when the file changes (bound-token rotation)."""

    path: Path
    _signature: tuple[int, int, int] | None = field(default=None, init=False)
    _token: str = field(default="", init=False)

    def current(self) -> str:
        """The token in the file now; reads the file only when it changed since the last read."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            if self._token:
                # The kubelet swaps the file atomically, but keep the last good token if a stat
                # races the swap; the next request stats again.
                return self._token
            raise ConfigurationError("service account token", f"cannot read: {exc}") from exc
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if signature != self._signature:
            token = self.path.read_text(encoding="utf-8").strip()
            if token:
                if self._signature is not None:
                    log.info("service_account_token_reloaded", path=str(self.path))
                self._token = token
                self._signature = signature
        return self._token

    def install(self, configuration: Any) -> None:
        """Make every request of ``configuration`` carry the current token."""
        configuration.api_key_prefix["BearerToken"] = "Bearer"
        configuration.api_key["BearerToken"] = self.current()

        def refresh(config: Any) -> None:
            config.api_key["BearerToken"] = self.current()

        configuration.refresh_api_key_hook = refresh


def load_api_client(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    token_file: Path = Path(SERVICE_TOKEN_FILENAME),
    ca_file: Path = Path(SERVICE_CERT_FILENAME),
) -> k8s_client.ApiClient:
    """An ``ApiClient`` for the cluster named by ``settings`` (see the module docstring).

    ``environ``, ``token_file`` and ``ca_file`` exist for tests of the in-cluster path; the
    daemon passes only ``settings``. Raises :class:`ConfigurationError` when no source works.
    """
    configuration = k8s_client.Configuration()
    env = os.environ if environ is None else environ
    if settings.kubeconfig is not None:
        _load_kubeconfig(configuration, settings.kubeconfig, settings.kube_context)
        source = "kubeconfig"
    elif env.get(SERVICE_HOST_ENV_NAME) and env.get(SERVICE_PORT_ENV_NAME):
        _load_in_cluster(configuration, env, token_file, ca_file)
        source = "in_cluster"
    else:
        default = DEFAULT_KUBECONFIG.expanduser()
        if not default.is_file():
            raise ConfigurationError(
                "KUBECONFIG",
                "not running in a pod and no kubeconfig found (set KUBECONFIG or create "
                f"{DEFAULT_KUBECONFIG})",
            )
        _load_kubeconfig(configuration, default, settings.kube_context)
        source = "default_kubeconfig"
    _tune(configuration, settings)
    log.info("kube_client_configured", source=source, host=configuration.host)
    return k8s_client.ApiClient(configuration)


def _load_kubeconfig(configuration: Any, path: Path, context: str | None) -> None:
    try:
        load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, KeyError, ValueError) as exc:
        setting = "KUBE_CONTEXT" if context and "context" in str(exc).lower() else "KUBECONFIG"
        raise ConfigurationError(setting, f"cannot load {path}: {exc}") from exc


def _load_in_cluster(
    configuration: Any, environ: Mapping[str, str], token_file: Path, ca_file: Path
) -> None:
    loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(token_file),
        cert_filename=str(ca_file),
        # Our hook below re-reads on change; the library's re-reads only once a minute.
        try_refresh_token=False,
        environ=environ,
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise ConfigurationError("service account", f"in-cluster config: {exc}") from exc
    ServiceAccountToken(token_file).install(configuration)


def _tune(configuration: Any, settings: Settings) -> None:
    # One quick connect retry; no read or status retries: a slow apiserver must cost one
    # timeout per request, not four, and the collector decides what a failed list means.
    configuration.retries = urllib3.Retry(
        total=1, connect=1, read=0, status=0, other=0, redirect=0, backoff_factor=0.1
    )
    # Lists and log tails run in parallel: one pooled connection per worker, plus spare.
    configuration.connection_pool_maxsize = max(4, settings.collect_concurrency * 2)
