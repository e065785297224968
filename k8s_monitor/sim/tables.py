"""Server-side printing: ``meta.k8s.io/v1`` Tables, which kubectl asks for on ``get``.

Columns and cell formats follow the apiserver's printers for pods, nodes, deployments and
events; other resources get the default Name/Age table, as CRDs without printer columns do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from k8s_monitor.sim.api import Resource

JSON = dict[str, Any]


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _age(obj: JSON, now: datetime) -> str:
    created = _parse(obj.get("metadata", {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration((now - created).total_seconds())


def _column(name: str, type_: str = "string", fmt: str = "", priority: int = 0) -> JSON:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def _pod_cells(pod: JSON, now: datetime) -> list[Any]:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers", []))
    ready = sum(1 for c in statuses if c.get("ready"))
    reason = status.get("reason") or status.get("phase", "")
    restarts = 0
    last_restart: datetime | None = None
    for container in reversed(statuses):
        restarts += int(container.get("restartCount", 0))
        finished = _parse(container.get("lastState", {}).get("terminated", {}).get("finishedAt"))
        if finished is not None and (last_restart is None or finished > last_restart):
            last_restart = finished
        state = container.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    restart_cell = str(restarts)
    if restarts and last_restart is not None:
        restart_cell = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restart_cell,
        _age(pod, now),
        status.get("podIP") or "<none>",
        pod.get("spec", {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _node_cells(node: JSON, now: datetime) -> list[Any]:
    status = node.get("status", {})
    ready = "Unknown"
    for cond in status.get("conditions", []):
        if cond.get("type") == "Ready":
            ready = "Ready" if cond.get("status") == "True" else "NotReady"
            if cond.get("status") == "Unknown":
                ready = "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    labels = node.get("metadata", {}).get("labels", {})
    roles = sorted(
        key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
    )
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses", [])}
    info = status.get("nodeInfo", {})
    return [
        node["metadata"]["name"],
        ready,
        ",".join(roles) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        addresses.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _deployment_cells(obj: JSON, now: datetime) -> list[Any]:
    status = obj.get("status", {})
    desired = obj.get("spec", {}).get("replicas", 1)
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{desired}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
    ]


def _event_cells(obj: JSON, now: datetime) -> list[Any]:
    involved = obj.get("involvedObject", {})
    last = _parse(obj.get("lastTimestamp"))
    seen = human_duration((now - last).total_seconds()) if last else "<unknown>"
    return [
        seen,
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


def _default_cells(obj: JSON, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj, now)]


_PRINTERS: dict[str, tuple[list[JSON], Callable[[JSON, datetime], list[Any]]]] = {
    "Pod": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Status"),
            _column("Restarts"),
            _column("Age"),
            _column("IP", priority=1),
            _column("Node", priority=1),
            _column("Nominated Node", priority=1),
            _column("Readiness Gates", priority=1),
        ],
        _pod_cells,
    ),
    "Node": (
        [
            _column("Name", fmt="name"),
            _column("Status"),
            _column("Roles"),
            _column("Age"),
            _column("Version"),
            _column("Internal-IP", priority=1),
            _column("External-IP", priority=1),
            _column("OS-Image", priority=1),
            _column("Kernel-Version", priority=1),
            _column("Container-Runtime", priority=1),
        ],
        _node_cells,
    ),
    "Deployment": (
        [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _column("Age"),
        ],
        _deployment_cells,
    ),
    "Event": (
        [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Message"),
        ],
        _event_cells,
    ),
}

_DEFAULT = ([_column("Name", fmt="name"), _column("Age")], _default_cells)


def _row_object(obj: JSON, resource: Resource, include: str) -> JSON | None:
    if include == "None":
        return None
    if include == "Object":
        return {"kind": resource.kind, "apiVersion": resource.group_version, **obj}
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    objects: Iterable[JSON],
    resource: Resource,
    now: datetime,
    list_meta: JSON,
    include_object: str = "Metadata",
) -> JSON:
    columns, cells = _PRINTERS.get(resource.kind, _DEFAULT)
    rows = []
    for obj in objects:
        row: JSON = {"cells": cells(obj, now)}
        embedded = _row_object(obj, resource, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    }
