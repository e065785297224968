"""The scenario file format: a base cluster, then steps of changes.

A scenario YAML names nodes, namespaces and workloads; pods, replicasets, jobs, events, PVCs,
HPAs, PDBs and metrics are generated from them as the controllers would. Each step applies a
list of changes on top of the previous state; step ``k`` is ``k * clock.step_seconds`` into the
scenario, and each change happens ``lead_seconds`` (default: half a step) before its step.
Unknown keys are errors, so a typo fails loudly instead of silently simulating something else.

    name: my-scenario
    clock: {step_seconds: 900}            # start: "2026-03-02T09:00:00Z" fixes the clock
    metrics: true                         # serve metrics.k8s.io (false: 404, no metrics-server)
    namespaces: [shop]
    nodes:
      - {name: ip-10-0-1-23.ec2.internal, zone: us-east-1a, cpu: "8", memory: 32Gi}
    workloads:                            # Deployment | StatefulSet | DaemonSet | CronJob | Job
      - {kind: Deployment, namespace: shop, name: checkout, image: "shop/checkout:3.8.2",
         replicas: 3, hpa: {min: 2, max: 6}, pdb_min_available: 2}
      - {kind: StatefulSet, namespace: shop, name: redis, image: "redis:7", volume: 8Gi}
    quotas: [{namespace: shop, hard: {pods: "60"}, used: {pods: "12"}}]
    steps:
      - name: healthy
      - name: broken
        changes:
          - crashloop: {workload: shop/checkout, exit_code: 1, log: "{time} ERROR boom"}
          - node_condition: {node: ip-10-0-1-23.ec2.internal, type: MemoryPressure,
                             status: "True"}
          - rollout: {workload: shop/checkout, image: "shop/checkout:9", pull_error: not found}
            lead_seconds: 700
      - name: fixed
        changes:
          - heal: {workload: shop/checkout}          # restart: false keeps the pods
          - rollback: {workload: shop/checkout}

Other changes: ``scale`` (replicas), ``pending`` (pods recreated and Unschedulable), ``event``
(any event on any object), ``job_fail`` (a Job or the CronJob's latest run fails), ``evict``
(the kubelet evicts pods of a Deployment from a node; they stay Failed until a ``heal``).
``{time}`` in a log is replaced by the time the fault began.

``sources`` cites the published incident a scenario follows and ``expect.root_cause`` names the
object a monitor should blame at the last step (``kind``, ``namespace``, ``name``, ``reason``),
for scoring.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct, field


class _In(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every scenario struct: unknown keys are rejected."""


class ClockIn(_In):
    # A fixed start makes every timestamp reproducible; without it each step is "now" when
    # entered, so wall-clock analyzers (restart windows, event age) see a live cluster.
    start: str | None = None
    step_seconds: float = 900.0


class VersionIn(_In):
    major: str = "1"
    minor: str = "30"
    git_version: str = "v1.30.4-eks-a737599"
    platform: str = "linux/amd64"


class NodeIn(_In):
    name: str
    zone: str = "us-east-1a"
    instance_type: str = "m6i.xlarge"
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 58
    role: Literal["worker", "system"] = "worker"
    kubelet: str = "v1.30.4-eks-036c24b"
    age_days: float = 30.0


class HpaIn(_In):
    min: int = 1
    max: int = 10
    cpu_percent: int = 70


class WorkloadIn(_In):
    kind: Literal["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"]
    namespace: str
    name: str
    image: str
    replicas: int = 1
    port: int | None = 8080
    cpu: str = "100m"
    memory: str = "128Mi"
    labels: dict[str, str] = field(default_factory=dict)
    schedule: str = "*/30 * * * *"
    volume: str | None = None  # StatefulSet: size of one PVC per replica
    hpa: HpaIn | None = None
    pdb_min_available: int | None = None
    log: str | None = None  # lines a healthy container prints; a default access log otherwise
    env: dict[str, str] = field(default_factory=dict)  # plain values, visible in the pod spec
    secret_env: dict[str, str] = field(default_factory=dict)  # NAME: "secret/key" (valueFrom)
    age_days: float = 7.0
    service_account: str = "default"


class QuotaIn(_In):
    namespace: str
    name: str = "compute-quota"
    hard: dict[str, str] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)


# --- changes ---------------------------------------------------------------------------------


class CrashLoopIn(_In):
    workload: str  # "namespace/name"; the kind is looked up
    exit_code: int = 1
    reason: str = "Error"  # "OOMKilled" with exit_code 137 for memory kills
    message: str = ""
    log: str = ""
    container: str | None = None


class HealIn(_In):
    workload: str
    # A fix is usually a new rollout (fresh pods); ``restart: false`` keeps the pods and their
    # restart counts, as when a dependency comes back by itself.
    restart: bool = True


class NodeConditionIn(_In):
    node: str
    type: Literal["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None


class RolloutIn(_In):
    workload: str
    image: str
    pull_error: str | None = None  # set: the new image cannot be pulled (ImagePullBackOff)


class RollbackIn(_In):
    workload: str


class ScaleIn(_In):
    workload: str
    replicas: int


class PendingIn(_In):
    workload: str
    message: str = (
        "0/{nodes} nodes are available: {nodes} Insufficient memory. preemption: "
        "0/{nodes} nodes are available: {nodes} No preemption victims found for incoming pod."
    )


class EventIn(_In, kw_only=True):
    kind: str
    name: str
    namespace: str | None = None
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Warning"
    count: int = 1
    component: str = "kubelet"


class JobFailIn(_In):
    workload: str  # a CronJob or Job
    exit_code: int = 1
    log: str = ""


class EvictIn(_In):
    workload: str  # a Deployment: the kubelet evicts some of its pods from a node
    node: str
    count: int = 1
    resource: Literal["memory", "ephemeral-storage"] = "memory"


class ChangeIn(_In):
    """Exactly one change key per list item, plus when it happened.

    A change happens ``lead_seconds`` before the step (default: half a step), as things happen
    between two looks at a cluster, not at the instant of the look.
    """

    lead_seconds: float | None = None

    crashloop: CrashLoopIn | None = None
    heal: HealIn | None = None
    node_condition: NodeConditionIn | None = None
    rollout: RolloutIn | None = None
    rollback: RollbackIn | None = None
    scale: ScaleIn | None = None
    pending: PendingIn | None = None
    event: EventIn | None = None
    job_fail: JobFailIn | None = None
    evict: EvictIn | None = None


class StepIn(_In):
    name: str
    description: str = ""
    changes: list[ChangeIn] = field(default_factory=list)


class RootCauseIn(_In):
    kind: str
    name: str
    reason: str
    namespace: str = ""  # "" for cluster-scoped objects


class ExpectIn(_In):
    root_cause: RootCauseIn


class ScenarioIn(_In):
    name: str
    description: str = ""
    sources: list[str] = field(default_factory=list)  # published incidents this one follows
    expect: ExpectIn | None = None
    clock: ClockIn = field(default_factory=ClockIn)
    version: VersionIn = field(default_factory=VersionIn)
    metrics: bool = True
    namespaces: list[str] = field(default_factory=list)
    nodes: list[NodeIn] = field(default_factory=list)
    workloads: list[WorkloadIn] = field(default_factory=list)
    quotas: list[QuotaIn] = field(default_factory=list)
    steps: list[StepIn] = field(default_factory=list)
