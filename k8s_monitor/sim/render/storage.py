"""StorageClasses, PersistentVolumeClaims and the volumes bound to them.

A StatefulSet with a volume gets one claim per pod, bound to an EBS volume. EKS clusters ship
``gp2`` (the default class) and usually add ``gp3`` for the EBS CSI driver. A claim naming
another class stays Pending: the persistent volume controller records ProvisioningFailed, and
the StatefulSet's pods wait for the claim.
"""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.render.events import event
from k8s_monitor.sim.render.templates import workload_labels
from k8s_monitor.sim.world import DAY, WorkloadState

DEFAULT_CLASS = "gp2"
UNBOUND = (
    "0/{nodes} nodes are available: pod has unbound immediate PersistentVolumeClaims. "
    "preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
)


def storage_classes(ctx: RenderContext) -> None:
    """The scenario's StorageClasses; ``gp2`` is the in-tree default class."""
    for name in sorted(set(ctx.spec.storage_classes)):
        annotations = (
            {"storageclass.kubernetes.io/is-default-class": "true"} if name == DEFAULT_CLASS else {}
        )
        in_tree = name == DEFAULT_CLASS
        ctx.out.add(
            "storageclasses",
            {
                "metadata": o.object_meta(
                    name=name,
                    namespace=None,
                    uid=o.make_uid("StorageClass", name),
                    created=ctx.at(-40 * DAY),
                    resource_version=ctx.next_rv(),
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


def volume_claim(
    ctx: RenderContext, workload: WorkloadState, name: str, created_offset: float
) -> None:
    """The claim ``name`` for ``workload``, bound to its volume (Pending without its class)."""
    if class_missing(ctx, workload):
        pending_claim(ctx, workload, name, created_offset)
        return
    spec = workload.spec
    volume = f"pvc-{o.make_uid('PVC', spec.namespace, name)}"
    created = ctx.at(created_offset)
    size = spec.volume or "10Gi"
    ctx.out.add(
        "persistentvolumeclaims",
        {
            "metadata": o.object_meta(
                name=name,
                namespace=spec.namespace,
                uid=o.make_uid("PVC", spec.namespace, name),
                created=created,
                resource_version=ctx.next_rv(),
                labels=workload_labels(spec),
                annotations={
                    "pv.kubernetes.io/bind-completed": "yes",
                    "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                },
            ),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
                "volumeName": volume,
                "storageClassName": spec.storage_class,
                "volumeMode": "Filesystem",
            },
            "status": {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": size},
            },
        },
    )
    ctx.out.add(
        "persistentvolumes",
        {
            "metadata": o.object_meta(
                name=volume,
                namespace=None,
                uid=o.make_uid("PV", volume),
                created=created,
                resource_version=ctx.next_rv(),
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
                "storageClassName": spec.storage_class,
                "volumeMode": "Filesystem",
                "csi": {
                    "driver": "ebs.csi.aws.com",
                    "volumeHandle": "vol-0" + o.name_suffix(16, volume),
                },
            },
            "status": {"phase": "Bound"},
        },
    )


def class_missing(ctx: RenderContext, workload: WorkloadState) -> bool:
    return workload.spec.storage_class not in ctx.spec.storage_classes


def unbound_message(ctx: RenderContext) -> str:
    return UNBOUND.format(nodes=len(ctx.world.nodes))


def pending_claim(ctx: RenderContext, workload: WorkloadState, name: str, created: float) -> None:
    """A claim whose StorageClass does not exist: Pending, no volume, ProvisioningFailed."""
    spec = workload.spec
    uid = o.make_uid("PVC", spec.namespace, name)
    ctx.out.add(
        "persistentvolumeclaims",
        {
            "metadata": o.object_meta(
                name=name,
                namespace=spec.namespace,
                uid=uid,
                created=ctx.at(created),
                resource_version=ctx.next_rv(),
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
    attempts = max(1, int((ctx.now_offset - created) // 15))
    event(
        ctx, "PersistentVolumeClaim", spec.namespace, name, uid, "ProvisioningFailed",
        f'storageclass.storage.k8s.io "{spec.storage_class}" not found', "Warning",
        created + 1, ctx.now_offset - 5, attempts, "persistentvolume-controller",
    )  # fmt: skip
