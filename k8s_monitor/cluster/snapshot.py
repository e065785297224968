"""The compact, typed cluster snapshot that every later stage reads.

The structs mirror the Kubernetes JSON shape (camelCase on the wire, snake_case here) but keep
only the fields the analyzers use, so ``msgspec`` can decode API pages and ``kubectl get -o json``
dumps straight into them, skipping everything else. Env var *values* have no field here: they are
never decoded, so they can never leak.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import Struct, field


class _K8s(Struct, rename="camel", kw_only=True, omit_defaults=True, gc=False):
    """Base: camelCase names on the wire, unknown fields ignored, everything optional.

    ``gc=False``: decoded objects hold only data, never a reference cycle, so the cyclic GC
    need not track them; a 150k-pod snapshot then decodes about a third faster (issue 4).
    Repeated fields are tuples for the same reason: the GC drops a tuple of untracked values
    from tracking, while a list stays tracked for life (ten per pod), and an empty tuple is
    shared. They also say what is true of every stage after collection: the data is read-only.
    """


# --- shared pieces ----------------------------------------------------------------------------


class OwnerReference(_K8s):
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool = False


class ObjectMeta(_K8s):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: tuple[OwnerReference, ...] = ()
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    generation: int = 0
    resource_version: str = ""
    finalizers: tuple[str, ...] = ()

    def controller_ref(self) -> OwnerReference | None:
        for ref in self.owner_references:
            if ref.controller:
                return ref
        return self.owner_references[0] if self.owner_references else None


class Condition(_K8s):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None
    last_heartbeat_time: datetime | None = None
    last_update_time: datetime | None = None


class LabelSelector(_K8s):
    match_labels: dict[str, str] = {}


# --- pods ------------------------------------------------------------------------------------


class EnvVar(_K8s):
    """Name and reference only. ``value`` is deliberately absent: it is never collected."""

    name: str = ""
    value_from: dict[str, Any] | None = None


class NamedRef(_K8s):
    """A ConfigMap or Secret named by a pod (``configMapRef``, ``configMap`` volume...)."""

    name: str = ""
    optional: bool = False


class EnvFromSource(_K8s):
    config_map_ref: NamedRef | None = None
    secret_ref: NamedRef | None = None


class Container(_K8s):
    name: str = ""
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    resources: dict[str, dict[str, str]] = {}


class SecretVolume(_K8s):
    secret_name: str = ""
    optional: bool = False


class ClaimVolume(_K8s):
    claim_name: str = ""


class ProjectionSource(_K8s):
    config_map: NamedRef | None = None
    secret: NamedRef | None = None


class ProjectedVolume(_K8s):
    sources: tuple[ProjectionSource, ...] = ()


class Volume(_K8s):
    """Only the references to other objects; the volume's contents are never collected."""

    name: str = ""
    config_map: NamedRef | None = None
    secret: SecretVolume | None = None
    persistent_volume_claim: ClaimVolume | None = None
    projected: ProjectedVolume | None = None


class PodSpec(_K8s):
    node_name: str = ""
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    restart_policy: str = ""
    priority_class_name: str = ""
    volumes: tuple[Volume, ...] = ()
    node_selector: dict[str, str] = {}
    service_account_name: str = ""
    image_pull_secrets: tuple[NamedRef, ...] = ()  # names only: Secrets are never read


class StateWaiting(_K8s):
    reason: str = ""
    message: str = ""


class StateRunning(_K8s):
    started_at: datetime | None = None


class StateTerminated(_K8s):
    exit_code: int = 0
    signal: int = 0
    reason: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ContainerState(_K8s):
    waiting: StateWaiting | None = None
    running: StateRunning | None = None
    terminated: StateTerminated | None = None


class ContainerStatus(_K8s):
    name: str = ""
    ready: bool = False
    started: bool | None = None
    restart_count: int = 0
    image: str = ""
    state: ContainerState = field(default_factory=ContainerState)
    last_state: ContainerState = field(default_factory=ContainerState)


class PodStatus(_K8s):
    phase: str = ""
    reason: str = ""
    message: str = ""
    conditions: tuple[Condition, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    start_time: datetime | None = None
    qos_class: str = ""


class Pod(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)
    status: PodStatus = field(default_factory=PodStatus)


# --- nodes -----------------------------------------------------------------------------------


class Taint(_K8s):
    key: str = ""
    value: str = ""
    effect: str = ""
    time_added: datetime | None = None


class NodeSpec(_K8s):
    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()


class NodeInfo(_K8s):
    kubelet_version: str = ""


class NodeStatus(_K8s):
    conditions: tuple[Condition, ...] = ()
    capacity: dict[str, str] = {}
    allocatable: dict[str, str] = {}
    node_info: NodeInfo = field(default_factory=NodeInfo)


class Node(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: NodeSpec = field(default_factory=NodeSpec)
    status: NodeStatus = field(default_factory=NodeStatus)


# --- events ----------------------------------------------------------------------------------


class ObjectReference(_K8s):
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


class EventSeries(_K8s):
    count: int = 0
    last_observed_time: datetime | None = None


class EventSource(_K8s):
    component: str = ""
    host: str = ""


class Event(_K8s):
    """A core/v1 Event. Its ``message`` is untrusted text and is redacted at collection."""

    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    involved_object: ObjectReference = field(default_factory=ObjectReference)
    reason: str = ""
    message: str = ""
    type: str = ""
    count: int = 0
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    event_time: datetime | None = None
    series: EventSeries | None = None
    source: EventSource = field(default_factory=EventSource)
    reporting_component: str = ""

    @property
    def seen_at(self) -> datetime | None:
        """The most recent time this event was observed, whichever field the emitter filled."""
        if self.series is not None and self.series.last_observed_time is not None:
            return self.series.last_observed_time
        return self.last_timestamp or self.event_time or self.metadata.creation_timestamp


# --- workloads -------------------------------------------------------------------------------


class DeploymentSpec(_K8s):
    replicas: int | None = None
    selector: LabelSelector = field(default_factory=LabelSelector)
    paused: bool = False
    progress_deadline_seconds: int | None = None


class DeploymentStatus(_K8s):
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0
    unavailable_replicas: int = 0
    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


class Deployment(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: DeploymentSpec = field(default_factory=DeploymentSpec)
    status: DeploymentStatus = field(default_factory=DeploymentStatus)


class ReplicaSetSpec(_K8s):
    replicas: int | None = None


class ReplicaSetStatus(_K8s):
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0


class ReplicaSet(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: ReplicaSetSpec = field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = field(default_factory=ReplicaSetStatus)


class StatefulSetSpec(_K8s):
    replicas: int | None = None
    selector: LabelSelector = field(default_factory=LabelSelector)


class StatefulSetStatus(_K8s):
    replicas: int = 0
    ready_replicas: int = 0
    current_replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0
    observed_generation: int = 0
    current_revision: str = ""
    update_revision: str = ""


class StatefulSet(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: StatefulSetSpec = field(default_factory=StatefulSetSpec)
    status: StatefulSetStatus = field(default_factory=StatefulSetStatus)


class DaemonSetStatus(_K8s):
    desired_number_scheduled: int = 0
    current_number_scheduled: int = 0
    number_ready: int = 0
    number_available: int = 0
    number_unavailable: int = 0
    number_misscheduled: int = 0
    updated_number_scheduled: int = 0
    observed_generation: int = 0


class DaemonSet(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    status: DaemonSetStatus = field(default_factory=DaemonSetStatus)


class JobSpec(_K8s):
    completions: int | None = None
    parallelism: int | None = None
    backoff_limit: int | None = None
    active_deadline_seconds: int | None = None
    suspend: bool = False


class JobStatus(_K8s):
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    conditions: tuple[Condition, ...] = ()
    start_time: datetime | None = None
    completion_time: datetime | None = None


class Job(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: JobSpec = field(default_factory=JobSpec)
    status: JobStatus = field(default_factory=JobStatus)


class CronJobSpec(_K8s):
    schedule: str = ""
    suspend: bool = False
    time_zone: str | None = None
    starting_deadline_seconds: int | None = None
    concurrency_policy: str = ""


class CronJobStatus(_K8s):
    last_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None
    active: tuple[ObjectReference, ...] = ()


class CronJob(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: CronJobSpec = field(default_factory=CronJobSpec)
    status: CronJobStatus = field(default_factory=CronJobStatus)


# --- storage, autoscaling, policy ------------------------------------------------------------


class PVCSpec(_K8s):
    storage_class_name: str | None = None
    volume_name: str = ""
    access_modes: tuple[str, ...] = ()


class PVCStatus(_K8s):
    phase: str = ""
    conditions: tuple[Condition, ...] = ()


class PersistentVolumeClaim(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PVCSpec = field(default_factory=PVCSpec)
    status: PVCStatus = field(default_factory=PVCStatus)


class PVSpec(_K8s):
    claim_ref: ObjectReference | None = None
    storage_class_name: str = ""
    # Where the volume can be attached (an EBS volume's zone); compared with the node's zone.
    node_affinity: dict[str, Any] | None = None


class PVStatus(_K8s):
    phase: str = ""
    reason: str = ""
    message: str = ""


class PersistentVolume(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PVSpec = field(default_factory=PVSpec)
    status: PVStatus = field(default_factory=PVStatus)


class ScaleTargetRef(_K8s):
    kind: str = ""
    name: str = ""


class HPASpec(_K8s):
    min_replicas: int | None = None
    max_replicas: int = 0
    scale_target_ref: ScaleTargetRef = field(default_factory=ScaleTargetRef)


class HPAStatus(_K8s):
    current_replicas: int = 0
    desired_replicas: int = 0
    conditions: tuple[Condition, ...] = ()


class HorizontalPodAutoscaler(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: HPASpec = field(default_factory=HPASpec)
    status: HPAStatus = field(default_factory=HPAStatus)


class PDBSpec(_K8s):
    min_available: int | str | None = None
    max_unavailable: int | str | None = None


class PDBStatus(_K8s):
    current_healthy: int = 0
    desired_healthy: int = 0
    disruptions_allowed: int = 0
    expected_pods: int = 0


class PodDisruptionBudget(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PDBSpec = field(default_factory=PDBSpec)
    status: PDBStatus = field(default_factory=PDBStatus)


class QuotaStatus(_K8s):
    hard: dict[str, str] = {}
    used: dict[str, str] = {}


class ResourceQuota(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    status: QuotaStatus = field(default_factory=QuotaStatus)


class NamespaceStatus(_K8s):
    phase: str = ""


class Namespace(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    status: NamespaceStatus = field(default_factory=NamespaceStatus)


class StorageClass(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    provisioner: str = ""
    volume_binding_mode: str = ""


# --- services ----------------------------------------------------------------------------------


class ServiceSpec(_K8s):
    selector: dict[str, str] = {}
    type: str = ""


class Service(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: ServiceSpec = field(default_factory=ServiceSpec)


class EndpointConditions(_K8s):
    ready: bool | None = None  # None: unknown, which consumers treat as ready
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(_K8s):
    conditions: EndpointConditions = field(default_factory=EndpointConditions)
    target_ref: ObjectReference | None = None
    node_name: str = ""


class EndpointSlice(_K8s):
    """A discovery.k8s.io/v1 EndpointSlice; the ``kubernetes.io/service-name`` label names its
    Service."""

    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    address_type: str = ""
    endpoints: tuple[Endpoint, ...] = ()


# --- metrics.k8s.io --------------------------------------------------------------------------


class NodeMetrics(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    usage: dict[str, str] = {}


class ContainerMetrics(_K8s):
    name: str = ""
    usage: dict[str, str] = {}


class PodMetrics(_K8s):
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    containers: tuple[ContainerMetrics, ...] = ()


# --- what collection adds ----------------------------------------------------------------------


class LogTail(Struct, kw_only=True):
    """The redacted tail of one container's log (the previous instance when it crashed)."""

    namespace: str
    pod: str
    container: str
    previous: bool
    text: str
    truncated: bool = False


class CollectionGap(Struct, kw_only=True):
    """A resource this cycle could not read, and what would fix it."""

    resource: str  # plural API resource, e.g. "pods", "horizontalpodautoscalers"
    api_group: str  # "" for core
    reason: str  # "forbidden" | "timeout" | "error" | "expired" | "unavailable"
    status: int | None = None
    detail: str = ""
    fix: str = ""


class ClusterSnapshot(Struct, kw_only=True):
    """Everything one cycle read, already compact and redacted."""

    cluster: str
    collected_at: datetime
    pods: list[Pod] = []
    nodes: list[Node] = []
    events: list[Event] = []
    deployments: list[Deployment] = []
    replicasets: list[ReplicaSet] = []
    statefulsets: list[StatefulSet] = []
    daemonsets: list[DaemonSet] = []
    jobs: list[Job] = []
    cronjobs: list[CronJob] = []
    pvcs: list[PersistentVolumeClaim] = []
    pvs: list[PersistentVolume] = []
    hpas: list[HorizontalPodAutoscaler] = []
    pdbs: list[PodDisruptionBudget] = []
    resource_quotas: list[ResourceQuota] = []
    namespaces: list[Namespace] = []
    services: list[Service] = []
    endpoint_slices: list[EndpointSlice] = []
    storage_classes: list[StorageClass] = []
    node_metrics: list[NodeMetrics] | None = None  # None: metrics.k8s.io is not served
    pod_metrics: list[PodMetrics] | None = None
    log_tails: list[LogTail] = []
    gaps: list[CollectionGap] = []

    @property
    def partial(self) -> bool:
        return bool(self.gaps)


# --- decoding --------------------------------------------------------------------------------

# kind -> (struct, snapshot attribute). The one table that ties API kinds to snapshot lists.
KINDS: dict[str, tuple[type[_K8s], str]] = {
    "Pod": (Pod, "pods"),
    "Node": (Node, "nodes"),
    "Event": (Event, "events"),
    "Deployment": (Deployment, "deployments"),
    "ReplicaSet": (ReplicaSet, "replicasets"),
    "StatefulSet": (StatefulSet, "statefulsets"),
    "DaemonSet": (DaemonSet, "daemonsets"),
    "Job": (Job, "jobs"),
    "CronJob": (CronJob, "cronjobs"),
    "PersistentVolumeClaim": (PersistentVolumeClaim, "pvcs"),
    "PersistentVolume": (PersistentVolume, "pvs"),
    "HorizontalPodAutoscaler": (HorizontalPodAutoscaler, "hpas"),
    "PodDisruptionBudget": (PodDisruptionBudget, "pdbs"),
    "ResourceQuota": (ResourceQuota, "resource_quotas"),
    "Namespace": (Namespace, "namespaces"),
    "Service": (Service, "services"),
    "EndpointSlice": (EndpointSlice, "endpoint_slices"),
    "StorageClass": (StorageClass, "storage_classes"),
    "NodeMetrics": (NodeMetrics, "node_metrics"),
    "PodMetrics": (PodMetrics, "pod_metrics"),
}


def without_nulls(value: Any) -> Any:
    """Drop JSON nulls recursively.

    Client libraries and some ``kubectl`` versions write ``null`` where the apiserver omits a
    field; the structs treat absent and null alike, so we fold one into the other before decoding.
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value if v is not None]
    return value


def decode_object(kind: str, obj: dict[str, Any]) -> _K8s:
    """Decode one already-parsed object of ``kind`` into its compact struct."""
    struct_type, _ = KINDS[kind]
    return msgspec.convert(without_nulls(obj), struct_type, strict=False)


def snapshot_from_objects(
    objects: list[dict[str, Any]], *, cluster: str, collected_at: datetime
) -> ClusterSnapshot:
    """Build a snapshot from parsed API objects of any supported kind (``kubectl`` dumps).

    Objects of kinds no analyzer reads are skipped.
    """
    buckets: dict[str, list[Any]] = {}
    for obj in objects:
        kind = obj.get("kind", "")
        if kind not in KINDS:
            continue
        _, attribute = KINDS[kind]
        buckets.setdefault(attribute, []).append(decode_object(kind, obj))
    return ClusterSnapshot(cluster=cluster, collected_at=collected_at, **buckets)
