"""The evidence stage's reads, served by ``cluster.lookup.ClusterLookup`` (bounded GETs)."""

from __future__ import annotations

import msgspec

from k8s_monitor.cluster.lookup import ClusterLookup
from k8s_monitor.cluster.snapshot import PodSpec
from k8s_monitor.errors import BadRequestError, ObjectNotFoundError

PREVIOUS_LOG_LINES = 50
PREVIOUS_LOG_BYTES = 4_096


class LookupReads:
    """``EvidenceReads`` over a ``ClusterLookup``; "not there" is a value, other errors raise."""

    def __init__(self, lookup: ClusterLookup) -> None:
        self._lookup = lookup

    @property
    def requests(self) -> int:
        return self._lookup.requests

    def configmap_keys(self, namespace: str, name: str) -> list[str] | None:
        try:
            found = self._lookup.configmap_keys(namespace, name)
        except ObjectNotFoundError:
            return None
        return [*found.keys, *found.binary_keys]

    def previous_log(self, namespace: str, pod: str, container: str) -> str | None:
        try:
            text = self._lookup.container_logs(
                namespace,
                pod,
                container,
                previous=True,
                tail_lines=PREVIOUS_LOG_LINES,
                max_bytes=PREVIOUS_LOG_BYTES,
            )
        except (ObjectNotFoundError, BadRequestError):
            # No previous instance (the apiserver answers 400 for that): nothing to show.
            return None
        return text.text

    def replicaset_template(self, namespace: str, name: str) -> PodSpec | None:
        try:
            view = self._lookup.get_object("ReplicaSet", namespace, name)
        except ObjectNotFoundError:
            return None
        template = (view.object.get("spec") or {}).get("template") or {}
        try:
            return msgspec.convert(template.get("spec") or {}, PodSpec, strict=False)
        except msgspec.ValidationError:
            return None
