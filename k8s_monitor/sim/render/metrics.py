"""metrics.k8s.io: node and pod usage as metrics-server reports it (scenarios with metrics)."""

from __future__ import annotations

from datetime import timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render.context import RenderContext
from k8s_monitor.sim.render.quantities import to_ki


def usage(ctx: RenderContext) -> None:
    """Node usage (high under memory pressure) and usage of every running pod."""
    window = "20.036s"
    stamp = o.ts(ctx.now - timedelta(seconds=11))
    for node in ctx.world.nodes.values():
        capacity_ki = int(to_ki(node.spec.memory).removesuffix("Ki"))
        pressure = node.conditions.get("MemoryPressure")
        share = (
            0.96
            if pressure is not None and pressure.status == "True"
            else 0.35 + o.stable_int(30, node.spec.name) / 100
        )
        cores = float(node.spec.cpu)
        cpu_share = 0.1 + o.stable_int(40, node.spec.name, "c") / 100
        ctx.out.add(
            "metrics:nodes",
            {
                "metadata": {
                    "name": node.spec.name,
                    "creationTimestamp": o.ts(ctx.now),
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
    for pod in ctx.out.objects.get("pods", []):
        statuses = pod["status"].get("containerStatuses", [])
        if pod["status"].get("phase") != "Running" or not statuses:
            continue
        if "running" not in statuses[0].get("state", {}):
            continue
        meta = pod["metadata"]
        ctx.out.add(
            "metrics:pods",
            {
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "creationTimestamp": o.ts(ctx.now),
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
