"""StorageClasses, and the claims that name one the cluster does not have.

EKS clusters ship ``gp2`` (the default class) and usually add ``gp3`` for the EBS CSI driver. A
claim naming another class stays Pending: the persistent volume controller records
ProvisioningFailed, and the StatefulSet's pods wait for the claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.world import DAY, WorkloadState

if TYPE_CHECKING:
    from k8s_monitor.sim.render import Renderer

JSON = dict[str, Any]
DEFAULT_CLASS = "gp2"
UNBOUND = (
    "0/{nodes} nodes are available: pod has unbound immediate PersistentVolumeClaims. "
    "preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
)


def storage_classes(renderer: Renderer) -> None:
    for name in sorted(set(renderer.spec.storage_classes)):
        annotations = (
            {"storageclass.kubernetes.io/is-default-class": "true"} if name == DEFAULT_CLASS else {}
        )
        in_tree = name == DEFAULT_CLASS
        renderer.out.add(
            "storageclasses",
            {
                "metadata": o.object_meta(
                    name=name,
                    namespace=None,
                    uid=o.make_uid("StorageClass", name),
                    created=renderer.at(-40 * DAY),
                    resource_version=renderer.next_rv(),
                    annotations=annotations,
                    managed_by="eks" if in_tree else "kubectl-client-side-apply",
                ),
                "provisioner": "kubernetes.io/aws-ebs" if in_tree else "ebs.csi.aws.com",
                "parameters": {"type": name, "fsType": "ext4"},
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": not in_tree,
            },
        )


def class_missing(renderer: Renderer, workload: WorkloadState) -> bool:
    return workload.spec.storage_class not in renderer.spec.storage_classes


def unbound_message(renderer: Renderer) -> str:
    return UNBOUND.format(nodes=len(renderer.world.nodes))


def pending_claim(renderer: Renderer, workload: WorkloadState, name: str, created: float) -> None:
    """A claim whose StorageClass does not exist: Pending, no volume, ProvisioningFailed."""
    spec = workload.spec
    uid = o.make_uid("PVC", spec.namespace, name)
    renderer.out.add(
        "persistentvolumeclaims",
        {
            "metadata": o.object_meta(
                name=name,
                namespace=spec.namespace,
                uid=uid,
                created=renderer.at(created),
                resource_version=renderer.next_rv(),
                labels={"app": spec.name, **spec.labels},
            ),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": spec.volume or "10Gi"}},
                "storageClassName": spec.storage_class,
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        },
    )
    attempts = max(1, int((renderer.now_offset - created) // 15))
    renderer._event(
        "PersistentVolumeClaim", spec.namespace, name, uid, "ProvisioningFailed",
        f'storageclass.storage.k8s.io "{spec.storage_class}" not found', "Warning",
        created + 1, renderer.now_offset - 5, attempts, "persistentvolume-controller",
    )  # fmt: skip
