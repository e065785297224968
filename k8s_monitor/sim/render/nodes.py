"""Nodes: EKS managed-group workers with their labels, conditions, taints, capacity and cordon."""

from __future__ import annotations

from datetime import datetime, timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import faults
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.quantities import allocatable_cpu, allocatable_memory, to_ki
from k8s_monitor.sim.world import NodeState


def node(ctx: RenderContext, state: NodeState) -> None:
    """One node as kubelet and the node controller keep it (conditions, pressure taints)."""
    spec = state.spec
    conditions = []
    taints: list[JSON] = []
    for type_ in (
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
        "NetworkUnavailable",
        "Ready",
    ):
        cond = state.conditions.get(type_)
        if cond is None:
            continue
        conditions.append(
            o.condition(
                type_,
                cond.status,
                ctx.at(cond.since),
                cond.reason,
                cond.message,
                heartbeat=ctx.now - timedelta(seconds=o.stable_int(40, spec.name) + 5),
            )
        )
        taints.extend(_taints_for(type_, cond.status, ctx.at(cond.since)))
    alloc_memory = allocatable_memory(spec.memory)
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
    cordoned = state.cordoned_at
    faults.cordon(node_spec, ctx.at(cordoned) if cordoned is not None else None)
    ctx.out.add(
        "nodes",
        {
            "metadata": o.object_meta(
                name=spec.name,
                namespace=None,
                uid=o.make_uid("Node", spec.name),
                created=ctx.at(state.created),
                resource_version=ctx.next_rv(),
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
                    "memory": to_ki(spec.memory),
                    "pods": str(spec.pods),
                },
                "allocatable": {
                    "cpu": allocatable_cpu(spec.cpu),
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
