"""Services and EndpointSlices for the scenario's workloads, as the endpointslice controller
would publish them: one Service per Deployment or StatefulSet with a port, one slice per Service
listing every selected pod with its readiness.
"""

from __future__ import annotations

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.world import WorkloadState

SERVICE_KINDS = ("Deployment", "StatefulSet")
SERVICE_CIDR = "172.20"


def services(ctx: RenderContext) -> None:
    """A Service and its EndpointSlice per Deployment or StatefulSet with a port."""
    pods = ctx.out.objects.get("pods", [])
    for workload in ctx.world.workloads.values():
        spec = workload.spec
        if spec.kind not in SERVICE_KINDS or spec.port is None:
            continue
        selector = workload.service_selector or {"app": spec.name, **spec.labels}
        ctx.out.add("services", _service(ctx, workload, selector))
        selected = [
            p
            for p in pods
            if p["metadata"].get("namespace") == spec.namespace
            and p["status"].get("phase") in ("Pending", "Running")
            and all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        ctx.out.add("endpointslices", _slice(ctx, workload, selected))


def _service(ctx: RenderContext, workload: WorkloadState, selector: dict[str, str]) -> JSON:
    spec = workload.spec
    cluster_ip = f"{SERVICE_CIDR}.{o.stable_int(250, spec.namespace, spec.name) + 1}." + str(
        o.stable_int(250, spec.name, spec.namespace) + 2
    )
    headless = spec.kind == "StatefulSet"
    ip = "None" if headless else cluster_ip
    return {
        "metadata": o.object_meta(
            name=spec.name,
            namespace=spec.namespace,
            uid=o.make_uid("Service", spec.namespace, spec.name),
            created=ctx.at(workload.created),
            resource_version=ctx.next_rv(),
            labels={"app": spec.name},
            managed_by="kubectl-client-side-apply",
        ),
        "spec": {
            "selector": selector,
            "ports": [
                {"name": "http", "port": spec.port, "targetPort": spec.port, "protocol": "TCP"}
            ],
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }


def _slice(ctx: RenderContext, workload: WorkloadState, pods: list[JSON]) -> JSON:
    spec = workload.spec
    name = f"{spec.name}-{o.name_suffix(5, spec.namespace, spec.name, 'slice')}"
    endpoints = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        status = pod["status"]
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        address = status.get("podIP")
        if address is None:
            continue  # not yet given an address: the controller leaves it out
        endpoint: JSON = {
            "addresses": [address],
            "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "targetRef": {
                "kind": "Pod",
                "namespace": spec.namespace,
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
        node = pod["spec"].get("nodeName")
        if node:
            endpoint["nodeName"] = node
            zone = ctx.world.nodes[node].spec.zone if node in ctx.world.nodes else None
            if zone:
                endpoint["zone"] = zone
        endpoints.append(endpoint)
    body: JSON = {
        "metadata": o.object_meta(
            name=name,
            namespace=spec.namespace,
            uid=o.make_uid("EndpointSlice", spec.namespace, name),
            created=ctx.at(workload.created),
            resource_version=ctx.next_rv(),
            labels={
                "kubernetes.io/service-name": spec.name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            owner=o.owner_ref(
                "v1", "Service", spec.name, o.make_uid("Service", spec.namespace, spec.name)
            ),
            managed_by="endpointslice-controller",
        ),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": spec.port, "protocol": "TCP"}],
    }
    # The apiserver writes an empty slice's endpoints as null.
    body["endpoints"] = endpoints or None
    return body
