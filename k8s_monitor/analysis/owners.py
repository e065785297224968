"""Owner resolution: which workload a pod or job really belongs to.

Pod -> ReplicaSet -> Deployment and Job -> CronJob are followed through ``ownerReferences`` and
the snapshot's replicasets and jobs. When a dump lacks the intermediate object, the names
Kubernetes generates are used instead (``<deployment>-<pod-template-hash>``), so grouping still
works on a ``kubectl get pods`` dump alone.
"""

from __future__ import annotations

from k8s_monitor.analysis.findings import ObjectRef
from k8s_monitor.cluster.snapshot import ClusterSnapshot, ObjectMeta

# Owners whose problems are the workload's, not the single pod's.
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})


class OwnerIndex:
    """Looks up the root workload of pods and jobs in one snapshot."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self._rs = {
            (rs.metadata.namespace, rs.metadata.name): rs.metadata for rs in snapshot.replicasets
        }
        self._jobs = {(j.metadata.namespace, j.metadata.name): j.metadata for j in snapshot.jobs}

    def root_of(self, kind: str, meta: ObjectMeta) -> ObjectRef:
        """The workload root of an object, or the object itself when it has none."""
        namespace = meta.namespace
        ref = meta.controller_ref()
        if ref is None:
            return ObjectRef(kind=kind, namespace=namespace, name=meta.name)
        if ref.kind == "ReplicaSet":
            return self._root_of_replicaset(namespace, ref.name, meta)
        if ref.kind == "Job":
            return self._root_of_job(namespace, ref.name)
        if ref.kind in WORKLOAD_KINDS:
            return ObjectRef(kind=ref.kind, namespace=namespace, name=ref.name)
        # Operators' custom kinds (e.g. a Rollout or a database CR) are roots too.
        return ObjectRef(kind=ref.kind, namespace=namespace, name=ref.name)

    def _root_of_replicaset(self, namespace: str, name: str, child: ObjectMeta) -> ObjectRef:
        rs = self._rs.get((namespace, name))
        if rs is not None:
            owner = rs.controller_ref()
            if owner is not None:
                return ObjectRef(kind=owner.kind, namespace=namespace, name=owner.name)
            return ObjectRef(kind="ReplicaSet", namespace=namespace, name=name)
        # Not in the snapshot: a Deployment names its ReplicaSets "<name>-<pod-template-hash>".
        template_hash = child.labels.get("pod-template-hash", "")
        if template_hash and name.endswith(f"-{template_hash}"):
            deployment = name[: -len(template_hash) - 1]
            return ObjectRef(kind="Deployment", namespace=namespace, name=deployment)
        return ObjectRef(kind="ReplicaSet", namespace=namespace, name=name)

    def _root_of_job(self, namespace: str, name: str) -> ObjectRef:
        job = self._jobs.get((namespace, name))
        if job is not None:
            owner = job.controller_ref()
            if owner is not None and owner.kind == "CronJob":
                return ObjectRef(kind="CronJob", namespace=namespace, name=owner.name)
        return ObjectRef(kind="Job", namespace=namespace, name=name)
