"""Turn a scenario ``World`` into the API objects a real cluster would show at one moment.

Controllers are imitated just far enough to be faithful where analyzers look: Deployments own
ReplicaSets own Pods (with a rolling update's surge/unavailable split), CronJobs own Jobs own
Pods, kubelet's crash back-off drives restart counts, and events carry counts and first/last
timestamps. Events older than an hour are dropped, as the apiserver's event TTL does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.dsl import ScenarioIn, WorkloadIn
from k8s_monitor.sim.view import ContainerLogs, ListCollection, StaticView
from k8s_monitor.sim.world import DAY, Fault, NodeState, Revision, WorkloadState, World

JSON = dict[str, Any]

EVENT_TTL_SECONDS = 3600.0
PROGRESS_DEADLINE_SECONDS = 600
_SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_UNSCHEDULABLE = "0/1 nodes are available: 1 Insufficient memory."


@dataclass
class _Pod:
    """What a controller decided about one pod before it is written out."""

    workload: WorkloadState
    name: str
    owner: JSON
    labels: dict[str, str]
    image: str
    created: float
    node: str | None
    # running | crashloop | recovered | imagepull | pending | completed | failed | evicted
    state: str
    since: float = 0.0
    fault: Fault | None = None
    pull_error: str | None = None
    exit_code: int = 0
    message: str = ""


@dataclass
class _Out:
    objects: dict[str, list[JSON]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str], ContainerLogs] = field(default_factory=dict)

    def add(self, resource: str, obj: JSON) -> None:
        self.objects.setdefault(resource, []).append(obj)


class Renderer:
    def __init__(
        self, spec: ScenarioIn, world: World, now_offset: float, now: datetime, rv: int
    ) -> None:
        self.spec = spec
        self.world = world
        self.now_offset = now_offset
        self.now = now
        self.rv = rv
        self.out = _Out()
        self._rv_counter = 0
        self._workers = sorted(n for n, s in world.nodes.items() if s.spec.role == "worker")
        self._all_nodes = sorted(world.nodes)

    # --- helpers ---------------------------------------------------------------------------

    def at(self, offset: float) -> datetime:
        return self.now - timedelta(seconds=self.now_offset - offset)

    def next_rv(self) -> str:
        self._rv_counter += 1
        return str(self.rv - 5000 + self._rv_counter)

    def _place(self, *parts: str) -> str | None:
        nodes = self._workers or self._all_nodes
        if not nodes:
            return None
        return nodes[o.stable_int(len(nodes), *parts)]

    # --- entry point -----------------------------------------------------------------------

    def render(self) -> StaticView:
        self._namespaces()
        for node in self.world.nodes.values():
            self._node(node)
        for workload in self.world.workloads.values():
            self._workload(workload)
        self._timeline_events()
        self._quotas()
        if self.spec.metrics:
            self._metrics()
        else:
            self.out.objects.pop("nodes.metrics", None)
        view = StaticView(resource_version=self.rv, now=self.now)
        for resource in _RESOURCES_ALWAYS:
            view.collections[resource] = ListCollection(self.out.objects.get(resource, []))
        if self.spec.metrics:
            for resource in ("metrics:nodes", "metrics:pods"):
                view.collections[resource] = ListCollection(self.out.objects.get(resource, []))
        view.container_logs = self.out.logs
        return view

    # --- namespaces ------------------------------------------------------------------------

    def _namespaces(self) -> None:
        names = set(_SYSTEM_NAMESPACES) | set(self.spec.namespaces)
        names |= {w.spec.namespace for w in self.world.workloads.values()}
        for name in sorted(names):
            self.out.add(
                "namespaces",
                {
                    "metadata": o.object_meta(
                        name=name,
                        namespace=None,
                        uid=o.make_uid("Namespace", name),
                        created=self.at(-40 * DAY),
                        resource_version=self.next_rv(),
                        labels={"kubernetes.io/metadata.name": name},
                        managed_by="kubectl-create",
                    ),
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )

    # --- nodes -----------------------------------------------------------------------------

    def _node(self, node: NodeState) -> None:
        spec = node.spec
        conditions = []
        taints: list[JSON] = []
        for type_ in (
            "MemoryPressure",
            "DiskPressure",
            "PIDPressure",
            "NetworkUnavailable",
            "Ready",
        ):
            cond = node.conditions.get(type_)
            if cond is None:
                continue
            conditions.append(
                o.condition(
                    type_,
                    cond.status,
                    self.at(cond.since),
                    cond.reason,
                    cond.message,
                    heartbeat=self.now - timedelta(seconds=o.stable_int(40, spec.name) + 5),
                )
            )
            taints.extend(_taints_for(type_, cond.status, self.at(cond.since)))
        alloc_memory = _allocatable_memory(spec.memory)
        instance_id = "i-0" + o.name_suffix(16, spec.name).replace("z", "a")
        ip = o.node_ip(spec.name)
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/instance-type": spec.instance_type,
            "beta.kubernetes.io/os": "linux",
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
            "eks.amazonaws.com/nodegroup": f"{spec.role}s",
            "failure-domain.beta.kubernetes.io/zone": spec.zone,
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": spec.name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": spec.instance_type,
            "topology.kubernetes.io/region": spec.zone[:-1],
            "topology.kubernetes.io/zone": spec.zone,
        }
        node_spec: JSON = {"providerID": f"aws:///{spec.zone}/{instance_id}"}
        if taints:
            node_spec["taints"] = taints
        self.out.add(
            "nodes",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=None,
                    uid=o.make_uid("Node", spec.name),
                    created=self.at(node.created),
                    resource_version=self.next_rv(),
                    labels=labels,
                    annotations={
                        "alpha.kubernetes.io/provided-node-ip": ip,
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    },
                    managed_by="kubelet",
                ),
                "spec": node_spec,
                "status": {
                    "capacity": {
                        "cpu": spec.cpu,
                        "ephemeral-storage": "83873772Ki",
                        "memory": _to_ki(spec.memory),
                        "pods": str(spec.pods),
                    },
                    "allocatable": {
                        "cpu": _allocatable_cpu(spec.cpu),
                        "ephemeral-storage": "76224326324",
                        "memory": alloc_memory,
                        "pods": str(spec.pods),
                    },
                    "conditions": conditions,
                    "addresses": [
                        {"type": "InternalIP", "address": ip},
                        {"type": "InternalDNS", "address": spec.name},
                        {"type": "Hostname", "address": spec.name},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {
                        "machineID": o.make_uid("machine", spec.name).replace("-", ""),
                        "systemUUID": o.make_uid("system", spec.name),
                        "bootID": o.make_uid("boot", spec.name),
                        "kernelVersion": "6.1.109-118.189.amzn2023.x86_64",
                        "osImage": "Amazon Linux 2023.6.20241010",
                        "containerRuntimeVersion": "containerd://1.7.22",
                        "kubeletVersion": spec.kubelet,
                        "kubeProxyVersion": spec.kubelet,
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                    },
                },
            },
        )

    # --- workloads -------------------------------------------------------------------------

    def _workload(self, workload: WorkloadState) -> None:
        kind = workload.spec.kind
        if kind == "Deployment":
            self._deployment(workload)
        elif kind == "StatefulSet":
            self._statefulset(workload)
        elif kind == "DaemonSet":
            self._daemonset(workload)
        elif kind == "CronJob":
            self._cronjob(workload)
        else:
            self._job(
                workload, None, workload.spec.name, self.at(workload.created), workload.created
            )
        if workload.spec.hpa is not None:
            self._hpa(workload)
        if workload.spec.pdb_min_available is not None:
            self._pdb(workload)

    def _labels(self, spec: WorkloadIn) -> dict[str, str]:
        return {"app": spec.name, **spec.labels}

    def _pod_state(self, workload: WorkloadState, revision: Revision) -> tuple[str, float]:
        if revision.pull_error is not None:
            return "imagepull", revision.since
        fault = workload.fault
        if fault is not None and fault.revision == revision.number:
            if fault.kind == "pending":
                return "pending", fault.since
            if fault.end is not None:
                return "recovered", fault.since
            return "crashloop", fault.since
        return "running", max(revision.since, workload.created)

    def _deployment(self, workload: WorkloadState) -> None:
        spec = workload.spec
        replicas = workload.replicas
        current = workload.current
        latest: dict[str, Revision] = {}
        for revision in workload.revisions[-10:]:
            latest[revision.template_key] = revision
        first: dict[str, Revision] = {}
        for revision in workload.revisions:
            first.setdefault(revision.template_key, revision)
        counts = _replica_counts(replicas, workload.revisions)
        # Pods that already existed before the latest revision keep their names and ages
        # (a rollback scales the old ReplicaSet back up; it does not recreate its pods).
        before = _replica_counts(replicas, workload.revisions[:-1]) if current.number > 1 else {}
        uid = o.make_uid("Deployment", spec.namespace, spec.name)
        labels = self._labels(spec)
        ready_total = available_total = total = 0
        rs_names: dict[str, str] = {}
        for key, revision in sorted(latest.items(), key=lambda kv: kv[1].number):
            template_hash = o.name_suffix(10, spec.namespace, spec.name, key)
            rs_name = f"{spec.name}-{template_hash}"
            rs_names[key] = rs_name
            rs_uid = o.make_uid("ReplicaSet", spec.namespace, rs_name)
            pod_labels = {**labels, "pod-template-hash": template_hash}
            count = counts.get(key, 0)
            state, since = self._pod_state(workload, revision)
            ready = 0
            survivors = before.get(key, 0) if key == current.template_key else count
            for index in range(count):
                born = first[key] if index < survivors else revision
                created = max(born.since, workload.created) + index * 3
                pod = _Pod(
                    workload=workload,
                    name=f"{rs_name}-{o.name_suffix(5, rs_name, str(born.number), str(index))}",
                    owner=o.owner_ref("apps/v1", "ReplicaSet", rs_name, rs_uid),
                    labels=pod_labels,
                    image=revision.image,
                    created=created,
                    node=None,
                    state=state,
                    since=max(since, created),
                    fault=workload.fault if state in ("crashloop", "recovered") else None,
                    pull_error=revision.pull_error,
                )
                if self._emit_pod(pod):
                    ready += 1
            total += count
            ready_total += ready
            available_total += ready
            self.out.add(
                "replicasets",
                self._replicaset(
                    workload, revision, rs_name, rs_uid, uid, pod_labels, count, ready
                ),
            )
        self._deployment_events(workload, rs_names)
        self._past_fault_events(workload)
        self._evicted_pods(workload)
        self.out.add(
            "deployments",
            self._deployment_object(workload, uid, labels, total, ready_total, rs_names),
        )

    def _replicaset(
        self,
        workload: WorkloadState,
        revision: Revision,
        name: str,
        uid: str,
        owner_uid: str,
        labels: dict[str, str],
        count: int,
        ready: int,
    ) -> JSON:
        spec = workload.spec
        return {
            "metadata": o.object_meta(
                name=name,
                namespace=spec.namespace,
                uid=uid,
                created=self.at(max(revision.since, workload.created)),
                resource_version=self.next_rv(),
                labels=labels,
                annotations={
                    "deployment.kubernetes.io/desired-replicas": str(workload.replicas),
                    "deployment.kubernetes.io/max-replicas": str(
                        workload.replicas + math.ceil(workload.replicas * 0.25)
                    ),
                    "deployment.kubernetes.io/revision": str(revision.number),
                },
                owner=o.owner_ref("apps/v1", "Deployment", spec.name, owner_uid),
                generation=revision.number,
            ),
            "spec": {
                "replicas": count,
                "selector": {"matchLabels": labels},
                "template": self._template(spec, labels, revision.image),
            },
            "status": {
                "replicas": count,
                "fullyLabeledReplicas": count,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": revision.number,
            }
            if count
            else {"replicas": 0, "observedGeneration": revision.number},
        }

    def _template(self, spec: WorkloadIn, labels: dict[str, str], image: str) -> JSON:
        return {
            "metadata": {"labels": labels},
            "spec": o.pod_spec(
                [
                    o.container_spec(
                        spec.name,
                        image,
                        port=spec.port,
                        cpu=spec.cpu,
                        memory=spec.memory,
                        env=spec.env,
                        secret_env=spec.secret_env,
                    )
                ],
                None,
                spec.service_account,
            ),
        }

    def _deployment_object(
        self,
        workload: WorkloadState,
        uid: str,
        labels: dict[str, str],
        total: int,
        ready: int,
        rs_names: dict[str, str],
    ) -> JSON:
        spec = workload.spec
        current = workload.current
        replicas = workload.replicas
        updated = (
            min(replicas, max(1, math.ceil(replicas * 0.25) + math.floor(replicas * 0.25)))
            if current.pull_error is not None and workload.last_good() is not None
            else replicas
        )
        max_unavailable = math.floor(replicas * 0.25)
        unavailable = max(0, replicas - ready)
        change_at = self.at(max(current.since, workload.created))
        fault_since = workload.fault.since if workload.fault is not None else current.since
        if ready >= replicas - max_unavailable:
            available = o.condition(
                "Available",
                "True",
                change_at,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                update=change_at,
            )
        else:
            since = self.at(max(fault_since, workload.created))
            available = o.condition(
                "Available",
                "False",
                since,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                update=since,
            )
        rs_name = rs_names[current.template_key]
        elapsed = self.now_offset - current.since
        if current.pull_error is not None and elapsed > PROGRESS_DEADLINE_SECONDS:
            deadline = self.at(current.since + PROGRESS_DEADLINE_SECONDS)
            progressing = o.condition(
                "Progressing",
                "False",
                deadline,
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                update=deadline,
            )
        elif current.pull_error is not None:
            progressing = o.condition(
                "Progressing",
                "True",
                change_at,
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                update=change_at,
            )
        else:
            progressing = o.condition(
                "Progressing",
                "True",
                self.at(workload.created),
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                update=change_at,
            )
        generation = current.number + (1 if workload.scaled_at is not None else 0)
        status: JSON = {
            "observedGeneration": generation,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [available, progressing],
        }
        if unavailable:
            status["unavailableReplicas"] = unavailable
        if not ready:
            del status["readyReplicas"]
            del status["availableReplicas"]
        return {
            "metadata": o.object_meta(
                name=spec.name,
                namespace=spec.namespace,
                uid=uid,
                created=self.at(workload.created),
                resource_version=self.next_rv(),
                labels=labels,
                annotations={"deployment.kubernetes.io/revision": str(current.number)},
                generation=generation,
                managed_by="kubectl-client-side-apply",
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": self._template(spec, labels, current.image),
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
            },
            "status": status,
        }

    def _deployment_events(self, workload: WorkloadState, rs_names: dict[str, str]) -> None:
        spec = workload.spec
        uid = o.make_uid("Deployment", spec.namespace, spec.name)
        for revision in workload.revisions[1:]:
            rs_name = rs_names.get(revision.template_key)
            if rs_name is None:
                continue
            self._event(
                "Deployment",
                spec.namespace,
                spec.name,
                uid,
                "ScalingReplicaSet",
                f"Scaled up replica set {rs_name} to {workload.replicas}",
                "Normal",
                revision.since,
                revision.since,
                1,
                "deployment-controller",
                api_version="apps/v1",
            )

    def _statefulset(self, workload: WorkloadState) -> None:
        spec = workload.spec
        labels = self._labels(spec)
        uid = o.make_uid("StatefulSet", spec.namespace, spec.name)
        current = workload.current
        good = workload.last_good() or current
        ready = 0
        for index in range(workload.replicas):
            # RollingUpdate goes from the highest ordinal down and stops at the first failure.
            on_current = current.pull_error is None or index == workload.replicas - 1
            revision = current if on_current else good
            revision_hash = (
                f"{spec.name}-{o.name_suffix(10, spec.namespace, spec.name, revision.template_key)}"
            )
            state, since = self._pod_state(workload, revision)
            created = max(revision.since, workload.created) + index * 20
            pod = _Pod(
                workload=workload,
                name=f"{spec.name}-{index}",
                owner=o.owner_ref("apps/v1", "StatefulSet", spec.name, uid),
                labels={
                    **labels,
                    "apps.kubernetes.io/pod-index": str(index),
                    "controller-revision-hash": revision_hash,
                    "statefulset.kubernetes.io/pod-name": f"{spec.name}-{index}",
                },
                image=revision.image,
                created=created,
                node=None,
                state=state,
                since=max(since, created),
                fault=workload.fault if state in ("crashloop", "recovered") else None,
                pull_error=revision.pull_error,
            )
            if self._emit_pod(pod):
                ready += 1
            if spec.volume:
                self._pvc(workload, f"data-{spec.name}-{index}", created)
        current_hash = (
            f"{spec.name}-{o.name_suffix(10, spec.namespace, spec.name, current.template_key)}"
        )
        status: JSON = {
            "observedGeneration": current.number,
            "replicas": workload.replicas,
            "readyReplicas": ready,
            "currentReplicas": workload.replicas,
            "updatedReplicas": 1 if current.pull_error else workload.replicas,
            "availableReplicas": ready,
            "currentRevision": current_hash,
            "updateRevision": current_hash,
            "collisionCount": 0,
        }
        self.out.add(
            "statefulsets",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=spec.namespace,
                    uid=uid,
                    created=self.at(workload.created),
                    resource_version=self.next_rv(),
                    labels=labels,
                    generation=current.number,
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {
                    "replicas": workload.replicas,
                    "selector": {"matchLabels": labels},
                    "template": self._template(spec, labels, current.image),
                    "serviceName": spec.name,
                    "podManagementPolicy": "OrderedReady",
                    "updateStrategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"partition": 0},
                    },
                    "revisionHistoryLimit": 10,
                },
                "status": status,
            },
        )

    def _daemonset(self, workload: WorkloadState) -> None:
        spec = workload.spec
        labels = self._labels(spec)
        uid = o.make_uid("DaemonSet", spec.namespace, spec.name)
        current = workload.current
        good = workload.last_good() or current
        ready = 0
        nodes = self._all_nodes
        for index, node in enumerate(nodes):
            on_current = current.pull_error is None or index == 0
            revision = current if on_current else good
            key = revision.template_key
            state, since = self._pod_state(workload, revision)
            created = max(revision.since, workload.created, self.world.nodes[node].created + 60)
            pod = _Pod(
                workload=workload,
                name=f"{spec.name}-{o.name_suffix(5, spec.namespace, spec.name, node, key)}",
                owner=o.owner_ref("apps/v1", "DaemonSet", spec.name, uid),
                labels={
                    **labels,
                    "controller-revision-hash": o.name_suffix(
                        10, spec.namespace, spec.name, revision.template_key
                    ),
                    "pod-template-generation": str(revision.number),
                },
                image=revision.image,
                created=created,
                node=node,
                state=state,
                since=max(since, created),
                fault=workload.fault if state in ("crashloop", "recovered") else None,
                pull_error=revision.pull_error,
            )
            if self._emit_pod(pod):
                ready += 1
        desired = len(nodes)
        status: JSON = {
            "currentNumberScheduled": desired,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": current.number,
            "updatedNumberScheduled": 1 if current.pull_error else desired,
            "numberAvailable": ready,
        }
        if desired - ready:
            status["numberUnavailable"] = desired - ready
        self.out.add(
            "daemonsets",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=spec.namespace,
                    uid=uid,
                    created=self.at(workload.created),
                    resource_version=self.next_rv(),
                    labels=labels,
                    annotations={"deprecated.daemonset.template.generation": str(current.number)},
                    generation=current.number,
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": self._template(spec, labels, current.image),
                    "updateStrategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                    },
                    "revisionHistoryLimit": 10,
                },
                "status": status,
            },
        )

    def _cronjob(self, workload: WorkloadState) -> None:
        spec = workload.spec
        uid = o.make_uid("CronJob", spec.namespace, spec.name)
        period = _schedule_period_minutes(spec.schedule) * 60
        now_epoch = self.now.timestamp()
        last_run = math.floor(now_epoch / period) * period
        runs = [last_run - k * period for k in (2, 1, 0)]
        owner = o.owner_ref("batch/v1", "CronJob", spec.name, uid)
        last_success: float | None = None
        for run in runs:
            offset = self.now_offset - (now_epoch - run)
            if offset < workload.created:
                continue
            name = f"{spec.name}-{int(run // 60)}"
            failed = (
                workload.job_failure is not None
                and run == runs[-1]
                and workload.job_failure.since <= self.now_offset
            )
            moment = datetime.fromtimestamp(run, tz=self.now.tzinfo)
            self._job(workload, owner, name, moment, offset, failed=failed)
            if not failed:
                last_success = run
        status: JSON = {
            "lastScheduleTime": o.ts(datetime.fromtimestamp(runs[-1], tz=self.now.tzinfo))
        }
        if last_success is not None:
            status["lastSuccessfulTime"] = o.ts(
                datetime.fromtimestamp(last_success + 40, tz=self.now.tzinfo)
            )
        self.out.add(
            "cronjobs",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=spec.namespace,
                    uid=uid,
                    created=self.at(workload.created),
                    resource_version=self.next_rv(),
                    labels=self._labels(spec),
                    generation=1,
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {
                    "schedule": spec.schedule,
                    "concurrencyPolicy": "Forbid",
                    "suspend": False,
                    "jobTemplate": {
                        "spec": {
                            "backoffLimit": 1,
                            "template": self._template(spec, self._labels(spec), spec.image),
                        }
                    },
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 1,
                },
                "status": status,
            },
        )

    def _job(
        self,
        workload: WorkloadState,
        owner: JSON | None,
        name: str,
        started: datetime,
        offset: float,
        *,
        failed: bool | None = None,
    ) -> None:
        spec = workload.spec
        if failed is None:
            failed = workload.job_failure is not None
        uid = o.make_uid("Job", spec.namespace, name)
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        attempts = 2 if failed else 1
        for attempt in range(attempts):
            pod = _Pod(
                workload=workload,
                name=f"{name}-{o.name_suffix(5, name, str(attempt))}",
                owner=o.owner_ref("batch/v1", "Job", name, uid),
                labels=labels,
                image=spec.image,
                created=offset + attempt * 15,
                node=None,
                state="failed" if failed else "completed",
                since=offset + attempt * 15,
                exit_code=workload.job_failure.exit_code if failed and workload.job_failure else 0,
            )
            self._emit_pod(pod)
        finished = started + timedelta(seconds=40)
        if failed:
            conditions = [
                o.condition(
                    "FailureTarget",
                    "True",
                    finished,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    probe_time=True,
                ),
                o.condition(
                    "Failed",
                    "True",
                    finished,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    probe_time=True,
                ),
            ]
            status: JSON = {"conditions": conditions, "startTime": o.ts(started), "failed": 2}
            self._event(
                "Job",
                spec.namespace,
                name,
                uid,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                "Warning",
                offset + 40,
                offset + 40,
                1,
                "job-controller",
                api_version="batch/v1",
            )
        else:
            conditions = [
                o.condition(
                    "SuccessCriteriaMet",
                    "True",
                    finished,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    probe_time=True,
                ),
                o.condition(
                    "Complete",
                    "True",
                    finished,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    probe_time=True,
                ),
            ]
            status = {
                "conditions": conditions,
                "startTime": o.ts(started),
                "completionTime": o.ts(finished),
                "succeeded": 1,
                "ready": 0,
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        self.out.add(
            "jobs",
            {
                "metadata": o.object_meta(
                    name=name,
                    namespace=spec.namespace,
                    uid=uid,
                    created=started,
                    resource_version=self.next_rv(),
                    labels=labels,
                    owner=owner,
                    generation=1,
                    managed_by="job-controller",
                ),
                "spec": {
                    "parallelism": 1,
                    "completions": 1,
                    "backoffLimit": 1,
                    "completionMode": "NonIndexed",
                    "suspend": False,
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                    "template": self._template(spec, labels, spec.image),
                },
                "status": status,
            },
        )

    # --- pods ------------------------------------------------------------------------------

    def _emit_pod(self, pod: _Pod) -> bool:
        """Write one pod, its logs and its events. Returns whether it is Ready."""
        spec = pod.workload.spec
        namespace = spec.namespace
        uid = o.make_uid("Pod", namespace, pod.name)
        node = pod.node or self._place(namespace, pod.name)
        if pod.state == "pending":
            node = None
        container = spec.name
        created = self.at(pod.created)
        status, ready = self._pod_status(pod, uid, container, node, created)
        pod_spec = o.pod_spec(
            [
                o.container_spec(
                    container,
                    pod.image,
                    port=spec.port,
                    cpu=spec.cpu,
                    memory=spec.memory,
                    env=spec.env,
                    secret_env=spec.secret_env,
                )
            ],
            node,
            spec.service_account,
        )
        if spec.kind in ("Job", "CronJob"):
            pod_spec["restartPolicy"] = "Never"
        self.out.add(
            "pods",
            {
                "metadata": o.object_meta(
                    name=pod.name,
                    namespace=namespace,
                    uid=uid,
                    created=created,
                    resource_version=self.next_rv(),
                    labels=pod.labels,
                    owner=pod.owner,
                    managed_by="kubelet",
                    generate_name=pod.name.rsplit("-", 1)[0] + "-"
                    if spec.kind != "StatefulSet"
                    else None,
                ),
                "spec": pod_spec,
                "status": status,
            },
        )
        self._pod_logs_and_events(pod, uid, container, node)
        return ready

    def _node_down_since(self, node: str | None) -> float | None:
        state = self.world.nodes.get(node or "")
        if state is None:
            return None
        ready = state.conditions.get("Ready")
        if ready is None or ready.status == "True":
            return None
        return ready.since

    def _pod_status(
        self, pod: _Pod, uid: str, container: str, node: str | None, created: datetime
    ) -> tuple[JSON, bool]:
        started = created + timedelta(seconds=2)
        ready_since = self.at(pod.since) + timedelta(seconds=8)
        container_id = f"containerd://{o.name_suffix(32, uid, 'c')}".replace("z", "a")
        image_id = f"{pod.image.split(':')[0]}@sha256:{o.name_suffix(32, pod.image)}"
        base = {"name": container, "image": pod.image, "imageID": image_id}
        ready = False
        # The node lifecycle controller marks pods on an unready node not ready.
        node_down = self._node_down_since(node)
        phase = "Running"
        state: JSON
        last_state: JSON = {}
        restarts = 0
        if pod.state == "pending":
            status: JSON = {
                "phase": "Pending",
                "conditions": [
                    o.condition(
                        "PodScheduled",
                        "False",
                        self.at(pod.since),
                        "Unschedulable",
                        pod.fault.message if pod.fault else _UNSCHEDULABLE,
                        probe_time=True,
                    )
                ],
                "qosClass": "Burstable",
            }
            return status, False
        if pod.state == "evicted":
            return self._evicted_status(pod, container, created), False
        if pod.state == "running":
            ready = node_down is None
            state = {"running": {"startedAt": o.ts(started)}}
        elif pod.state == "imagepull":
            phase = "Pending"
            base["imageID"] = ""
            state = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{pod.image}"',
                }
            }
        elif pod.state in ("crashloop", "recovered"):
            fault = pod.fault
            assert fault is not None
            end = (
                fault.end if pod.state == "recovered" and fault.end is not None else self.now_offset
            )
            namespace = pod.workload.spec.namespace
            restarts, since_crash = o.crash_restarts(end - fault.since)
            restarts = max(restarts, 1)
            last_crash = self.at(end - since_crash)
            terminated: JSON = {
                "exitCode": fault.exit_code,
                "reason": fault.reason,
                "startedAt": o.ts(last_crash - timedelta(seconds=4)),
                "finishedAt": o.ts(last_crash),
                "containerID": container_id,
            }
            if fault.message:
                terminated["message"] = fault.message
            last_state = {"terminated": terminated}
            if pod.state == "recovered":
                ready = True
                state = {"running": {"startedAt": o.ts(self.at(end))}}
            else:
                backoff = min(300, 10 * 2 ** max(restarts - 1, 0))
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {_duration(backoff)} restarting failed "
                        f"container={container} pod={pod.name}_{namespace}({uid})",
                    }
                }
        else:  # completed / failed job pods
            phase = "Succeeded" if pod.state == "completed" else "Failed"
            state = {
                "terminated": {
                    "exitCode": pod.exit_code,
                    "reason": "Completed" if pod.state == "completed" else "Error",
                    "startedAt": o.ts(started),
                    "finishedAt": o.ts(started + timedelta(seconds=35)),
                    "containerID": container_id,
                }
            }
        container_status: JSON = {
            **base,
            "state": state,
            "lastState": last_state,
            "ready": ready,
            "restartCount": restarts,
            "started": ready or pod.state == "recovered",
        }
        if base.get("imageID"):
            container_status["containerID"] = container_id
        if ready:
            ready_cond = o.condition("Ready", "True", ready_since, probe_time=True)
            containers_ready = o.condition("ContainersReady", "True", ready_since, probe_time=True)
        else:
            finished = pod.state in ("completed", "failed")
            reason = "PodCompleted" if finished else "ContainersNotReady"
            message = None if finished else f"containers with unready status: [{container}]"
            since = self.at(pod.since if node_down is None else max(pod.since, node_down))
            ready_cond = o.condition("Ready", "False", since, reason, message, probe_time=True)
            containers_ready = o.condition(
                "ContainersReady", "False", since, reason, message, probe_time=True
            )
        host_ip = o.node_ip(node or "")
        ip = o.pod_ip(pod.workload.spec.namespace, pod.name)
        status = {
            "phase": phase,
            "conditions": [
                o.condition("PodReadyToStartContainers", "True", started, probe_time=True),
                o.condition("Initialized", "True", created, probe_time=True),
                ready_cond,
                containers_ready,
                o.condition("PodScheduled", "True", created, probe_time=True),
            ],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": o.ts(created),
            "containerStatuses": [container_status],
            "qosClass": "Burstable",
        }
        return status, ready

    def _pod_logs_and_events(self, pod: _Pod, uid: str, container: str, node: str | None) -> None:
        spec = pod.workload.spec
        namespace = spec.namespace
        key = (namespace, pod.name, container)
        if pod.state == "running":
            self.out.logs[key] = ContainerLogs(current=self._access_log(pod))
        elif pod.state in ("crashloop", "recovered") and pod.fault is not None:
            fault = pod.fault
            previous = self._stamp(fault.log, fault.since) if fault.log else ""
            current = self._access_log(pod) if pod.state == "recovered" else previous
            self.out.logs[key] = ContainerLogs(current=current, previous=previous)
            end = fault.end if fault.end is not None else self.now_offset
            restarts, _ = o.crash_restarts(end - fault.since)
            self._event(
                "Pod",
                namespace,
                pod.name,
                uid,
                "BackOff",
                f"Back-off restarting failed container {container} in pod "
                f"{pod.name}_{namespace}({uid})",
                "Warning",
                fault.since + 14,
                end,
                max(restarts, 1),
                "kubelet",
                host=node,
                field_path=f"spec.containers{{{container}}}",
            )
        elif pod.state == "imagepull":
            self.out.logs[key] = ContainerLogs(
                current=None, waiting_reason="trying and failing to pull image"
            )
            image = pod.image
            detail = pod.pull_error or "not found"
            attempts = max(1, int((self.now_offset - pod.since) // 300) + 2)
            path = f"spec.containers{{{container}}}"
            self._event(
                "Pod",
                namespace,
                pod.name,
                uid,
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
                f'pull and unpack image "{image}": failed to resolve reference "{image}": {detail}',
                "Warning",
                pod.since + 2,
                self.now_offset - 30,
                attempts,
                "kubelet",
                host=node,
                field_path=path,
            )
            self._event(
                "Pod",
                namespace,
                pod.name,
                uid,
                "Failed",
                "Error: ImagePullBackOff",
                "Warning",
                pod.since + 3,
                self.now_offset - 20,
                attempts * 6,
                "kubelet",
                host=node,
                field_path=path,
            )
            self._event(
                "Pod",
                namespace,
                pod.name,
                uid,
                "BackOff",
                f'Back-off pulling image "{image}"',
                "Normal",
                pod.since + 3,
                self.now_offset - 20,
                attempts * 6,
                "kubelet",
                host=node,
                field_path=path,
            )
        elif pod.state == "pending":
            self.out.logs[key] = ContainerLogs(current=None, waiting_reason="ContainerCreating")
            self._event(
                "Pod",
                namespace,
                pod.name,
                uid,
                "FailedScheduling",
                pod.fault.message if pod.fault else _UNSCHEDULABLE,
                "Warning",
                pod.since,
                self.now_offset - 10,
                max(1, int((self.now_offset - pod.since) // 60)),
                "default-scheduler",
            )
        elif pod.state == "evicted":
            self.out.logs[key] = ContainerLogs(current="")
            self._event(
                "Pod", namespace, pod.name, uid, "Evicted", pod.message, "Warning",
                pod.since, pod.since, 1, "kubelet", host=node,
            )  # fmt: skip
            self._event(
                "Pod", namespace, pod.name, uid, "Killing", f"Stopping container {container}",
                "Normal", pod.since + 1, pod.since + 1, 1, "kubelet", host=node,
                field_path=f"spec.containers{{{container}}}",
            )  # fmt: skip
        elif pod.state == "failed":
            failure = pod.workload.job_failure
            text = self._stamp(failure.log, pod.since) if failure and failure.log else ""
            self.out.logs[key] = ContainerLogs(current=text)
        else:
            self.out.logs[key] = ContainerLogs(current="")

    def _evicted_pods(self, workload: WorkloadState) -> None:
        """Pods the kubelet evicted: Failed, reason Evicted, kept until someone deletes them."""
        spec = workload.spec
        by_number = {revision.number: revision for revision in workload.revisions}
        for number, eviction in enumerate(workload.evictions):
            if eviction.at > self.now_offset or eviction.revision not in by_number:
                continue
            revision = by_number[eviction.revision]
            template_hash = o.name_suffix(10, spec.namespace, spec.name, revision.template_key)
            rs_name = f"{spec.name}-{template_hash}"
            rs_uid = o.make_uid("ReplicaSet", spec.namespace, rs_name)
            unit = "Mi" if eviction.resource == "memory" else "Gi"
            message = (
                f"The node was low on resource: {eviction.resource}. "
                f"Threshold quantity: 100{unit}, available: 92{unit}. "
                f"Container {spec.name} was using 1203{unit}, request is {spec.memory}, "
                f"has larger consumption of {eviction.resource}. "
            )
            for index in range(eviction.count):
                name = f"{rs_name}-{o.name_suffix(5, rs_name, 'evicted', str(number), str(index))}"
                self._emit_pod(
                    _Pod(
                        workload=workload,
                        name=name,
                        owner=o.owner_ref("apps/v1", "ReplicaSet", rs_name, rs_uid),
                        labels={**self._labels(spec), "pod-template-hash": template_hash},
                        image=revision.image,
                        created=max(revision.since, workload.created),
                        node=eviction.node,
                        state="evicted",
                        since=eviction.at,
                        message=message,
                    )
                )

    def _evicted_status(self, pod: _Pod, container: str, created: datetime) -> JSON:
        at = self.at(pod.since)
        return {
            "phase": "Failed",
            "reason": "Evicted",
            "message": pod.message,
            "conditions": [
                o.condition(
                    "DisruptionTarget",
                    "True",
                    at,
                    "TerminationByKubelet",
                    pod.message.split(". ", 1)[0] + ".",
                    probe_time=True,
                ),
                o.condition("Ready", "False", at, "PodFailed", probe_time=True),
                o.condition("PodScheduled", "True", created, probe_time=True),
            ],
            "hostIP": o.node_ip(pod.node or ""),
            "startTime": o.ts(created),
            "containerStatuses": [
                {
                    "name": container,
                    "image": pod.image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "ContainerStatusUnknown",
                            "message": "The container could not be located when the pod was "
                            "terminated",
                        }
                    },
                    "lastState": {},
                }
            ],
            "qosClass": "Burstable",
        }

    def _past_fault_events(self, workload: WorkloadState) -> None:
        """Events outlive the pods they were about (the apiserver keeps them an hour)."""
        spec = workload.spec
        by_number = {revision.number: revision for revision in workload.revisions}
        for past in workload.past_faults:
            revision = by_number.get(past.revision)
            if past.end is None or revision is None:
                continue
            restarts, _ = o.crash_restarts(past.end - past.since)
            template_hash = o.name_suffix(10, spec.namespace, spec.name, revision.template_key)
            rs_name = f"{spec.name}-{template_hash}"
            for index in range(workload.replicas):
                suffix = o.name_suffix(5, rs_name, str(revision.number), str(index))
                pod = f"{rs_name}-{suffix}"
                uid = o.make_uid("Pod", spec.namespace, pod)
                self._event(
                    "Pod",
                    spec.namespace,
                    pod,
                    uid,
                    "BackOff",
                    f"Back-off restarting failed container {past.container} in pod "
                    f"{pod}_{spec.namespace}({uid})",
                    "Warning",
                    past.since + 14,
                    past.end,
                    max(restarts, 1),
                    "kubelet",
                    field_path=f"spec.containers{{{past.container}}}",
                )

    def _stamp(self, text: str, since: float) -> str:
        """Prefix untimed log lines with the crash time, as a JSON-logging app would write."""
        moment = self.at(since)
        lines = text.rstrip("\n").split("\n")
        return "\n".join(line.replace("{time}", o.ts(moment)) for line in lines) + "\n"

    def _access_log(self, pod: _Pod) -> str:
        if pod.workload.spec.log:
            return self._stamp(pod.workload.spec.log, pod.since)
        lines = []
        for k in range(12):
            moment = self.now - timedelta(seconds=(12 - k) * 7)
            lines.append(
                f'{o.ts(moment)} INFO http: 10.0.{k % 7}.{k + 20} "GET /healthz HTTP/1.1" 200 2 '
                f"{1 + k % 5}ms"
            )
        return "\n".join(lines) + "\n"

    # --- events, quotas, hpa, pdb, pvc, metrics --------------------------------------------

    def _event(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        uid: str,
        reason: str,
        message: str,
        type_: str,
        first: float,
        last: float,
        count: int,
        component: str,
        *,
        host: str | None = None,
        api_version: str = "v1",
        field_path: str | None = None,
    ) -> None:
        last = min(last, self.now_offset)
        first = min(first, last)
        if self.now_offset - last > EVENT_TTL_SECONDS:
            return
        involved = o.involved_object(kind, namespace, name, uid, api_version)
        if field_path:
            involved["fieldPath"] = field_path
        self.out.add(
            "events",
            o.event(
                namespace=namespace or "default",
                involved=involved,
                reason=reason,
                message=message,
                type_=type_,
                first=self.at(first),
                last=self.at(last),
                count=count,
                component=component,
                host=host,
                resource_version=self.next_rv(),
            ),
        )

    def _timeline_events(self) -> None:
        for item in self.world.timeline:
            if item.at > self.now_offset:
                continue
            uid = o.make_uid(item.kind, item.namespace or "", item.name)
            self._event(
                item.kind,
                item.namespace,
                item.name,
                uid,
                item.reason,
                item.message,
                item.type,
                item.at,
                item.at + 60 * (item.count - 1),
                item.count,
                item.component,
                host=item.name if item.kind == "Node" else None,
            )

    def _quotas(self) -> None:
        for quota in self.spec.quotas:
            self.out.add(
                "resourcequotas",
                {
                    "metadata": o.object_meta(
                        name=quota.name,
                        namespace=quota.namespace,
                        uid=o.make_uid("ResourceQuota", quota.namespace, quota.name),
                        created=self.at(-20 * DAY),
                        resource_version=self.next_rv(),
                        managed_by="kubectl-client-side-apply",
                    ),
                    "spec": {"hard": quota.hard},
                    "status": {"hard": quota.hard, "used": quota.used},
                },
            )

    def _hpa(self, workload: WorkloadState) -> None:
        spec = workload.spec
        hpa = spec.hpa
        assert hpa is not None
        current = max(hpa.min, min(workload.replicas, hpa.max))
        at_max = current >= hpa.max
        since = self.at(workload.created)
        self.out.add(
            "horizontalpodautoscalers",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=spec.namespace,
                    uid=o.make_uid("HPA", spec.namespace, spec.name),
                    created=since,
                    resource_version=self.next_rv(),
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": spec.kind,
                        "name": spec.name,
                    },
                    "minReplicas": hpa.min,
                    "maxReplicas": hpa.max,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": hpa.cpu_percent,
                                },
                            },
                        }
                    ],
                },
                "status": {
                    "currentReplicas": current,
                    "desiredReplicas": current,
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "current": {"averageUtilization": 35 + o.stable_int(30, spec.name)},
                            },
                        }
                    ],
                    "conditions": [
                        o.condition(
                            "AbleToScale",
                            "True",
                            since,
                            "ReadyForNewScale",
                            "recommended size matches current size",
                        ),
                        o.condition(
                            "ScalingActive",
                            "True",
                            since,
                            "ValidMetricFound",
                            "the HPA was able to successfully calculate a replica count from cpu "
                            "resource utilization (percentage of request)",
                        ),
                        o.condition(
                            "ScalingLimited",
                            "True" if at_max else "False",
                            since,
                            "TooManyReplicas" if at_max else "DesiredWithinRange",
                            "the desired replica count is more than the maximum replica count"
                            if at_max
                            else "the desired count is within the acceptable range",
                        ),
                    ],
                },
            },
        )

    def _pdb(self, workload: WorkloadState) -> None:
        spec = workload.spec
        minimum = spec.pdb_min_available or 0
        healthy = sum(
            1
            for pod in self.out.objects.get("pods", [])
            if pod["metadata"].get("namespace") == spec.namespace
            and pod["metadata"].get("labels", {}).get("app") == spec.name
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod["status"].get("conditions", [])
            )
        )
        expected = workload.replicas
        self.out.add(
            "poddisruptionbudgets",
            {
                "metadata": o.object_meta(
                    name=spec.name,
                    namespace=spec.namespace,
                    uid=o.make_uid("PDB", spec.namespace, spec.name),
                    created=self.at(workload.created),
                    resource_version=self.next_rv(),
                    generation=1,
                    managed_by="kubectl-client-side-apply",
                ),
                "spec": {"minAvailable": minimum, "selector": {"matchLabels": self._labels(spec)}},
                "status": {
                    "observedGeneration": 1,
                    "disruptionsAllowed": max(0, healthy - minimum),
                    "currentHealthy": healthy,
                    "desiredHealthy": minimum,
                    "expectedPods": expected,
                    "conditions": [
                        o.condition(
                            "DisruptionAllowed",
                            "True" if healthy > minimum else "False",
                            self.at(workload.created),
                            "SufficientPods" if healthy > minimum else "InsufficientPods",
                            "",
                        )
                        | {"message": "", "observedGeneration": 1}
                    ],
                },
            },
        )

    def _pvc(self, workload: WorkloadState, name: str, created_offset: float) -> None:
        spec = workload.spec
        volume = f"pvc-{o.make_uid('PVC', spec.namespace, name)}"
        created = self.at(created_offset)
        size = spec.volume or "10Gi"
        self.out.add(
            "persistentvolumeclaims",
            {
                "metadata": o.object_meta(
                    name=name,
                    namespace=spec.namespace,
                    uid=o.make_uid("PVC", spec.namespace, name),
                    created=created,
                    resource_version=self.next_rv(),
                    labels=self._labels(spec),
                    annotations={
                        "pv.kubernetes.io/bind-completed": "yes",
                        "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                    },
                ),
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                    "volumeName": volume,
                    "storageClassName": "gp3",
                    "volumeMode": "Filesystem",
                },
                "status": {
                    "phase": "Bound",
                    "accessModes": ["ReadWriteOnce"],
                    "capacity": {"storage": size},
                },
            },
        )
        self.out.add(
            "persistentvolumes",
            {
                "metadata": o.object_meta(
                    name=volume,
                    namespace=None,
                    uid=o.make_uid("PV", volume),
                    created=created,
                    resource_version=self.next_rv(),
                    annotations={"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"},
                    managed_by="csi-provisioner",
                ),
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": ["ReadWriteOnce"],
                    "claimRef": {
                        "kind": "PersistentVolumeClaim",
                        "namespace": spec.namespace,
                        "name": name,
                        "uid": o.make_uid("PVC", spec.namespace, name),
                        "apiVersion": "v1",
                    },
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": "gp3",
                    "volumeMode": "Filesystem",
                    "csi": {
                        "driver": "ebs.csi.aws.com",
                        "volumeHandle": "vol-0" + o.name_suffix(16, volume),
                    },
                },
                "status": {"phase": "Bound"},
            },
        )

    def _metrics(self) -> None:
        window = "20.036s"
        stamp = o.ts(self.now - timedelta(seconds=11))
        for node in self.world.nodes.values():
            capacity_ki = int(_to_ki(node.spec.memory).removesuffix("Ki"))
            pressure = node.conditions.get("MemoryPressure")
            share = (
                0.96
                if pressure is not None and pressure.status == "True"
                else 0.35 + o.stable_int(30, node.spec.name) / 100
            )
            cores = float(node.spec.cpu)
            cpu_share = 0.1 + o.stable_int(40, node.spec.name, "c") / 100
            self.out.add(
                "metrics:nodes",
                {
                    "metadata": {
                        "name": node.spec.name,
                        "creationTimestamp": o.ts(self.now),
                        "labels": {"kubernetes.io/hostname": node.spec.name},
                    },
                    "timestamp": stamp,
                    "window": window,
                    "usage": {
                        "cpu": f"{int(cores * 1e9 * cpu_share)}n",
                        "memory": f"{int(capacity_ki * share)}Ki",
                    },
                },
            )
        for pod in self.out.objects.get("pods", []):
            statuses = pod["status"].get("containerStatuses", [])
            if pod["status"].get("phase") != "Running" or not statuses:
                continue
            if "running" not in statuses[0].get("state", {}):
                continue
            meta = pod["metadata"]
            self.out.add(
                "metrics:pods",
                {
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "creationTimestamp": o.ts(self.now),
                        "labels": meta.get("labels", {}),
                    },
                    "timestamp": stamp,
                    "window": window,
                    "containers": [
                        {
                            "name": statuses[0]["name"],
                            "usage": {
                                "cpu": f"{1_000_000 + o.stable_int(90_000_000, meta['name'])}n",
                                "memory": f"{20_000 + o.stable_int(200_000, meta['name'], 'm')}Ki",
                            },
                        }
                    ],
                },
            )


_RESOURCES_ALWAYS = (
    "namespaces",
    "nodes",
    "pods",
    "events",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "persistentvolumeclaims",
    "persistentvolumes",
    "resourcequotas",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "services",
    "configmaps",
    "endpointslices",
)


def _replica_counts(replicas: int, revisions: list[Revision]) -> dict[str, int]:
    """Pods per pod template once the last of ``revisions`` is rolled out.

    A rolling update (25% surge, 25% unavailable) stuck on a template that cannot be pulled
    keeps most pods on the last good template.
    """
    current = revisions[-1]
    good = next((r for r in reversed(revisions[:-1]) if r.pull_error is None), None)
    counts = {r.template_key: 0 for r in revisions[-10:]}
    new_count = replicas
    if current.pull_error is not None and good is not None:
        surge = math.ceil(replicas * 0.25)
        unavailable = math.floor(replicas * 0.25)
        new_count = min(replicas, max(1, surge + unavailable))
        counts[good.template_key] = replicas - unavailable
    counts[current.template_key] = new_count
    return counts


def _taints_for(type_: str, status: str, since: datetime) -> list[JSON]:
    effects: dict[tuple[str, str], list[tuple[str, str]]] = {
        ("MemoryPressure", "True"): [("node.kubernetes.io/memory-pressure", "NoSchedule")],
        ("DiskPressure", "True"): [("node.kubernetes.io/disk-pressure", "NoSchedule")],
        ("PIDPressure", "True"): [("node.kubernetes.io/pid-pressure", "NoSchedule")],
        ("Ready", "False"): [
            ("node.kubernetes.io/not-ready", "NoSchedule"),
            ("node.kubernetes.io/not-ready", "NoExecute"),
        ],
        ("Ready", "Unknown"): [
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        ],
    }
    taints = []
    for key, effect in effects.get((type_, status), []):
        taint: JSON = {"key": key, "effect": effect}
        if effect == "NoExecute":
            taint["timeAdded"] = o.ts(since)
        taints.append(taint)
    return taints


_UNITS = {"Ki": 1, "Mi": 1024, "Gi": 1024**2, "Ti": 1024**3}


def _to_ki(quantity: str) -> str:
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return f"{int(float(quantity.removesuffix(suffix)) * factor)}Ki"
    return f"{int(float(quantity) / 1024)}Ki"


def _allocatable_memory(quantity: str) -> str:
    total = int(_to_ki(quantity).removesuffix("Ki"))
    return f"{int(total * 0.92)}Ki"


def _allocatable_cpu(cpu: str) -> str:
    return f"{int(float(cpu) * 1000) - 80}m"


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _schedule_period_minutes(schedule: str) -> int:
    """Period of the simple cron forms scenarios use (``*/N * * * *``, ``M * * * *``, daily)."""
    fields = schedule.split()
    if len(fields) != 5:
        return 60
    minute, hour = fields[0], fields[1]
    if minute.startswith("*/") and minute[2:].isdigit():
        return max(1, int(minute[2:]))
    if hour == "*":
        return 60
    if hour.startswith("*/") and hour[2:].isdigit():
        return 60 * int(hour[2:])
    return 24 * 60
