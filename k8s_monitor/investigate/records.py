"""Typed evidence records: what a person would have read with kubectl, one struct per kind.

Each record is tagged (``type``) so that a finding's ``evidence["investigation"]`` list stays
self-describing in JSON: the report, the model's message, notifications and the cause graph
read the same data.
"""

from __future__ import annotations

from msgspec import Struct


class _Record(Struct, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base: tagged by a snake_case ``type``; empty fields left out of the JSON."""


class Termination(_Record, tag="termination"):
    container: str
    exit_code: int
    meaning: str
    reason: str = ""
    signal: int = 0
    oom: bool = False
    restarts: int = 0
    finished_at: str | None = None


class LogTail(_Record, tag="log"):
    container: str
    previous: bool
    text: str
    truncated: bool = False
    source: str = "snapshot"  # "snapshot" | "lookup"


class ConfigRef(_Record, tag="config_ref"):
    """A ConfigMap or Secret a pod references. ConfigMaps: key names only; Secrets: never read."""

    kind: str  # "ConfigMap" | "Secret"
    namespace: str
    name: str
    used_by: list[str] = []  # "env", "envFrom", "volume", "projected"
    keys_used: list[str] = []
    optional: bool = False
    exists: bool | None = None  # None: not read (Secrets, or the read failed)
    keys: list[str] = []  # ConfigMaps only: the key names it has
    missing_keys: list[str] = []
    note: str = ""


class Rollout(_Record, tag="rollout"):
    owner: str
    new_revision: str
    new_replicaset: str
    created_at: str | None = None
    old_revision: str = ""
    old_replicaset: str = ""
    template_diff: list[str] = []
    failing_pods_in_new: int = 0
    failing_pods_in_old: int = 0


class SchedulingCause(Struct, kw_only=True, omit_defaults=True):
    cause: str  # insufficient_cpu | insufficient_memory | taint_not_tolerated | ...
    nodes: int = 0
    text: str = ""


class Scheduling(_Record, tag="scheduling"):
    message: str
    causes: list[SchedulingCause] = []
    requests: dict[str, str] = {}  # the pod's, summed over its containers
    nodes_fitting: str = ""  # how many schedulable nodes could hold it at all (allocatable)
    largest_allocatable: list[dict[str, str]] = []
    node_selector: dict[str, str] = {}


class ImagePull(_Record, tag="image_pull"):
    image: str
    registry: str
    repository: str
    tag: str = ""
    digest: str = ""
    failure: str = "unknown"  # not_found | unauthorized | rate_limited | dns_or_network | tls...
    message: str = ""
    pull_secrets: list[str] = []  # names only; the pod's own (a ServiceAccount's are not listed)


class Volume(_Record, tag="volume"):
    claim: str
    phase: str = ""
    storage_class: str = ""
    volume: str = ""
    volume_zone: str = ""
    node: str = ""
    node_zone: str = ""
    zone_conflict: bool = False


class NodeState(_Record, tag="node"):
    node: str
    conditions: list[dict[str, str]] = []
    heartbeat_age_seconds: int | None = None
    unreachable: bool = False
    pods_scheduled: int = 0
    namespaces: dict[str, int] = {}


class JobRun(_Record, tag="job"):
    job: str
    failed_pods: list[dict[str, str | int]] = []


class Unreadable(_Record, tag="unreadable"):
    """Something the evidence needed and could not read, and why."""

    what: str
    reason: str  # forbidden | not_found | error | budget | timeout
    detail: str = ""


Record = (
    Termination
    | LogTail
    | ConfigRef
    | Rollout
    | Scheduling
    | ImagePull
    | Volume
    | NodeState
    | JobRun
    | Unreadable
)
