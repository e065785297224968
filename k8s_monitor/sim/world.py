"""The scenario's cluster model: what the controllers would have made of the scenario so far.

``World`` holds intent and history (workload revisions, faults, node conditions) in scenario
seconds (offsets from the scenario's start). ``apply_change`` folds one change into it;
the ``render`` package turns it into API objects at a moment in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from k8s_monitor.errors import ConfigurationError
from k8s_monitor.sim.dsl import (
    AttachErrorIn,
    ChangeIn,
    CordonIn,
    CrashLoopIn,
    CronJobRefusedIn,
    EventIn,
    EvictIn,
    HealIn,
    JobFailIn,
    NodeConditionIn,
    NodeIn,
    PendingIn,
    RollbackIn,
    RolloutIn,
    SandboxErrorIn,
    ScaleIn,
    ScenarioIn,
    ServiceSelectorIn,
    WorkloadIn,
)

DAY = 86_400.0


@dataclass
class Revision:
    number: int
    image: str
    since: float
    generation: int  # bumped by a restart-style fix: same image, new pod template
    pull_error: str | None = None
    config_error: str | None = None  # its pods wait in CreateContainerConfigError
    create_error: str | None = None  # the apiserver refuses its pods (FailedCreate)

    @property
    def template_key(self) -> str:
        return f"{self.image}#{self.generation}"

    @property
    def broken(self) -> bool:
        """A rollout to this revision cannot complete: its pods never become ready."""
        return (
            self.pull_error is not None
            or self.config_error is not None
            or self.create_error is not None
        )


@dataclass
class Fault:
    kind: Literal["crashloop", "pending", "sandbox"]
    revision: int
    since: float
    end: float | None = None
    exit_code: int = 1
    reason: str = "Error"
    message: str = ""
    log: str = ""
    container: str = ""
    autoscaler: str | None = None  # who refused to add a node for pending pods
    autoscaler_message: str = ""
    event_reason: str = "FailedCreatePodSandBox"  # what kubelet reports for a "sandbox" fault


@dataclass
class JobFailure:
    since: float
    exit_code: int
    log: str


@dataclass
class JobRefusal:
    """The apiserver refuses every Job the CronJob creates from ``since`` on (a full quota)."""

    since: float
    message: str


@dataclass
class Eviction:
    revision: int
    node: str
    count: int
    resource: str
    at: float


@dataclass
class WorkloadState:
    spec: WorkloadIn
    replicas: int
    created: float
    revisions: list[Revision]
    fault: Fault | None = None
    past_faults: list[Fault] = field(default_factory=list)
    job_failure: JobFailure | None = None
    scaled_at: float | None = None
    evictions: list[Eviction] = field(default_factory=list)
    service_selector: dict[str, str] | None = None  # None: the workload's own labels
    job_refusal: JobRefusal | None = None

    @property
    def current(self) -> Revision:
        return self.revisions[-1]

    def last_good(self) -> Revision | None:
        for revision in reversed(self.revisions[:-1]):
            if not revision.broken:
                return revision
        return None


@dataclass
class NodeCondition:
    status: str
    since: float
    reason: str
    message: str


@dataclass
class NodeState:
    spec: NodeIn
    created: float
    conditions: dict[str, NodeCondition]
    cordoned_at: float | None = None


@dataclass
class TimelineEvent:
    """An event recorded when a change happened (node status changes, explicit events)."""

    kind: str
    namespace: str | None
    name: str
    reason: str
    message: str
    type: str
    at: float
    count: int
    component: str


@dataclass
class World:
    nodes: dict[str, NodeState]
    workloads: dict[str, WorkloadState]
    timeline: list[TimelineEvent] = field(default_factory=list)

    def workload(self, ref: str) -> WorkloadState:
        if ref not in self.workloads:
            known = ", ".join(sorted(self.workloads)) or "none"
            raise ConfigurationError(
                "scenario", f"unknown workload {ref!r} (expected namespace/name; known: {known})"
            )
        return self.workloads[ref]


_CONDITION_TEXT: dict[tuple[str, str], tuple[str, str]] = {
    ("Ready", "True"): ("KubeletReady", "kubelet is posting ready status"),
    ("Ready", "False"): (
        "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
        "message:Network plugin returns error: cni plugin not initialized",
    ),
    ("Ready", "Unknown"): ("NodeStatusUnknown", "Kubelet stopped posting node status."),
    ("MemoryPressure", "False"): (
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("MemoryPressure", "True"): (
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
    ),
    ("DiskPressure", "False"): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ("PIDPressure", "False"): ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("PIDPressure", "True"): (
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    ),
    ("NetworkUnavailable", "False"): ("RouteCreated", "RouteController created a route"),
    ("NetworkUnavailable", "True"): ("NoRouteCreated", "RouteController failed to create a route"),
}

# The node event kubelet records when a condition flips (these are type Normal in Kubernetes).
_NODE_EVENT_REASON: dict[tuple[str, str], str] = {
    ("Ready", "True"): "NodeReady",
    ("Ready", "False"): "NodeNotReady",
    ("Ready", "Unknown"): "NodeNotReady",
    ("MemoryPressure", "True"): "NodeHasInsufficientMemory",
    ("MemoryPressure", "False"): "NodeHasSufficientMemory",
    ("DiskPressure", "True"): "NodeHasDiskPressure",
    ("DiskPressure", "False"): "NodeHasNoDiskPressure",
    ("PIDPressure", "True"): "NodeHasInsufficientPID",
    ("PIDPressure", "False"): "NodeHasSufficientPID",
}

_BASE_CONDITIONS = (
    ("MemoryPressure", "False"),
    ("DiskPressure", "False"),
    ("PIDPressure", "False"),
    ("Ready", "True"),
)


def build_world(spec: ScenarioIn) -> World:
    nodes = {
        node.name: NodeState(
            spec=node,
            created=-node.age_days * DAY,
            conditions={
                type_: NodeCondition(
                    status, -node.age_days * DAY, *_CONDITION_TEXT[(type_, status)]
                )
                for type_, status in _BASE_CONDITIONS
            },
        )
        for node in spec.nodes
    }
    workloads: dict[str, WorkloadState] = {}
    for workload in spec.workloads:
        key = f"{workload.namespace}/{workload.name}"
        if key in workloads:
            raise ConfigurationError("scenario", f"workload {key!r} is declared twice")
        created = -workload.age_days * DAY
        workloads[key] = WorkloadState(
            spec=workload,
            replicas=workload.replicas,
            created=created,
            revisions=[Revision(1, workload.image, created, 0)],
        )
    return World(nodes=nodes, workloads=workloads)


def apply_change(world: World, change: ChangeIn, at: float, step_seconds: float) -> None:
    """Fold one change of the step at scenario second ``at`` into the world."""
    lead = change.lead_seconds if change.lead_seconds is not None else step_seconds / 2
    at -= lead
    handled = 0
    if change.crashloop is not None:
        _crashloop(world, change.crashloop, at)
        handled += 1
    if change.heal is not None:
        _heal(world, change.heal, at)
        handled += 1
    if change.node_condition is not None:
        _node_condition(world, change.node_condition, at)
        handled += 1
    if change.rollout is not None:
        _rollout(world, change.rollout, at)
        handled += 1
    if change.rollback is not None:
        _rollback(world, change.rollback, at)
        handled += 1
    if change.scale is not None:
        _scale(world, change.scale, at)
        handled += 1
    if change.pending is not None:
        _pending(world, change.pending, at)
        handled += 1
    if change.event is not None:
        _event(world, change.event, at)
        handled += 1
    if change.job_fail is not None:
        _job_fail(world, change.job_fail, at)
        handled += 1
    if change.evict is not None:
        _evict(world, change.evict, at)
        handled += 1
    if change.sandbox_error is not None:
        _sandbox_error(world, change.sandbox_error, at)
        handled += 1
    if change.attach_error is not None:
        _attach_error(world, change.attach_error, at)
        handled += 1
    if change.cordon is not None:
        _cordon(world, change.cordon, at)
        handled += 1
    if change.cronjob_refused is not None:
        _cronjob_refused(world, change.cronjob_refused, at)
        handled += 1
    if change.service_selector is not None:
        _service_selector(world, change.service_selector, at)
        handled += 1
    if handled != 1:
        raise ConfigurationError("scenario", f"each change needs exactly one key, got {handled}")


def _crashloop(world: World, change: CrashLoopIn, at: float) -> None:
    workload = world.workload(change.workload)
    workload.fault = Fault(
        kind="crashloop",
        revision=workload.current.number,
        since=at,
        exit_code=change.exit_code,
        reason=change.reason,
        message=change.message,
        log=change.log,
        container=change.container or workload.spec.name,
    )


def _heal(world: World, change: HealIn, at: float) -> None:
    workload = world.workload(change.workload)
    if workload.fault is not None:
        workload.fault.end = at
        if change.restart:
            workload.past_faults.append(workload.fault)
            workload.fault = None
    workload.job_failure = None
    workload.evictions = []  # someone deleted the Failed pods
    current = workload.current
    if change.restart or current.broken:
        good = current if not current.broken else workload.last_good() or current
        workload.revisions.append(
            Revision(len(workload.revisions) + 1, good.image, at, good.generation + 1)
        )


def _node_condition(world: World, change: NodeConditionIn, at: float) -> None:
    if change.node not in world.nodes:
        raise ConfigurationError("scenario", f"unknown node {change.node!r}")
    node = world.nodes[change.node]
    reason, message = _CONDITION_TEXT.get((change.type, change.status), ("", ""))
    node.conditions[change.type] = NodeCondition(
        change.status, at, change.reason or reason, change.message or message
    )
    event_reason = _NODE_EVENT_REASON.get((change.type, change.status))
    if event_reason is not None:
        world.timeline.append(
            TimelineEvent(
                kind="Node",
                namespace=None,
                name=change.node,
                reason=event_reason,
                message=f"Node {change.node} status is now: {event_reason}",
                type="Normal",
                at=at,
                count=1,
                component="node-controller" if change.type == "Ready" else "kubelet",
            )
        )
    if change.type == "MemoryPressure" and change.status == "True":
        world.timeline.append(
            TimelineEvent(
                kind="Node",
                namespace=None,
                name=change.node,
                reason="EvictionThresholdMet",
                message="Attempting to reclaim memory",
                type="Warning",
                at=at,
                count=3,
                component="kubelet",
            )
        )


def _rollout(world: World, change: RolloutIn, at: float) -> None:
    workload = world.workload(change.workload)
    workload.revisions.append(
        Revision(
            len(workload.revisions) + 1,
            change.image,
            at,
            workload.current.generation,
            change.pull_error,
            change.config_error,
            change.create_error,
        )
    )


def _rollback(world: World, change: RollbackIn, at: float) -> None:
    workload = world.workload(change.workload)
    good = workload.last_good()
    if good is None:
        raise ConfigurationError("scenario", f"{change.workload!r} has no revision to roll back to")
    workload.revisions.append(
        Revision(len(workload.revisions) + 1, good.image, at, good.generation)
    )


def _scale(world: World, change: ScaleIn, at: float) -> None:
    workload = world.workload(change.workload)
    workload.replicas = change.replicas
    workload.scaled_at = at


def _pending(world: World, change: PendingIn, at: float) -> None:
    """The workload's pods are recreated (a new pod template) and cannot be scheduled."""
    workload = world.workload(change.workload)
    workers = len(world.nodes)
    current = workload.current
    workload.revisions.append(
        Revision(len(workload.revisions) + 1, current.image, at, current.generation + 1)
    )
    workload.fault = Fault(
        kind="pending",
        revision=workload.current.number,
        since=at,
        message=change.message.format(nodes=workers),
        autoscaler=change.autoscaler,
        autoscaler_message=change.autoscaler_message.format(nodes=workers),
    )


def _sandbox_error(world: World, change: SandboxErrorIn, at: float) -> None:
    """The workload's pods are recreated and the CNI cannot give them a network."""
    workload = world.workload(change.workload)
    current = workload.current
    workload.revisions.append(
        Revision(len(workload.revisions) + 1, current.image, at, current.generation + 1)
    )
    workload.fault = Fault(
        kind="sandbox", revision=workload.current.number, since=at, message=change.message
    )


def _attach_error(world: World, change: AttachErrorIn, at: float) -> None:
    """A StatefulSet's pods are recreated and kubelet cannot attach their volume."""
    workload = world.workload(change.workload)
    if workload.spec.kind != "StatefulSet" or not workload.spec.volume:
        raise ConfigurationError(
            "scenario", f"attach_error needs a StatefulSet with a volume: {change.workload}"
        )
    current = workload.current
    workload.revisions.append(
        Revision(len(workload.revisions) + 1, current.image, at, current.generation + 1)
    )
    workload.fault = Fault(
        kind="sandbox",
        revision=workload.current.number,
        since=at,
        message=change.message,
        event_reason="FailedAttachVolume",
    )


def _cronjob_refused(world: World, change: CronJobRefusedIn, at: float) -> None:
    workload = world.workload(change.workload)
    if workload.spec.kind != "CronJob":
        raise ConfigurationError("scenario", f"cronjob_refused needs a CronJob: {change.workload}")
    workload.job_refusal = JobRefusal(at, change.message)


def _cordon(world: World, change: CordonIn, at: float) -> None:
    if change.node not in world.nodes:
        raise ConfigurationError("scenario", f"unknown node {change.node!r}")
    world.nodes[change.node].cordoned_at = at


def _service_selector(world: World, change: ServiceSelectorIn, at: float) -> None:
    workload = world.workload(change.workload)
    if workload.spec.port is None or workload.spec.kind not in ("Deployment", "StatefulSet"):
        raise ConfigurationError(
            "scenario",
            f"{change.workload!r} has no Service (a Deployment or StatefulSet with a port)",
        )
    workload.service_selector = dict(change.selector)


def _event(world: World, change: EventIn, at: float) -> None:
    world.timeline.append(
        TimelineEvent(
            kind=change.kind,
            namespace=change.namespace,
            name=change.name,
            reason=change.reason,
            message=change.message,
            type=change.type,
            at=at,
            count=change.count,
            component=change.component,
        )
    )


def _job_fail(world: World, change: JobFailIn, at: float) -> None:
    workload = world.workload(change.workload)
    if workload.spec.kind not in ("Job", "CronJob"):
        raise ConfigurationError("scenario", f"job_fail needs a Job or CronJob: {change.workload}")
    workload.job_failure = JobFailure(at, change.exit_code, change.log)


def _evict(world: World, change: EvictIn, at: float) -> None:
    workload = world.workload(change.workload)
    if workload.spec.kind != "Deployment":
        raise ConfigurationError("scenario", f"evict needs a Deployment: {change.workload}")
    if change.node not in world.nodes:
        raise ConfigurationError("scenario", f"unknown node {change.node!r}")
    workload.evictions.append(
        Eviction(workload.current.number, change.node, change.count, change.resource, at)
    )
