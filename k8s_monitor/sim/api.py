"""The API surface the simulator serves: resources, discovery documents and ``Status`` errors.

Shapes follow the apiserver's JSON exactly (kubectl parses discovery and tables; the client
parses ``Status``), so both tools behave as they would against a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

DEFAULT_USER = "system:serviceaccount:monitoring:k8s-monitor"


@dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    key: str = ""  # the collection name in a ClusterView; the plural unless two groups share it
    categories: tuple[str, ...] = ()

    @property
    def collection_key(self) -> str:
        return self.key or self.plural

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_metrics(self) -> bool:
        return self.group == "metrics.k8s.io"


RESOURCES: tuple[Resource, ...] = (
    Resource("pods", "pod", "Pod", "", "v1", True, ("po",), categories=("all",)),
    Resource("nodes", "node", "Node", "", "v1", False, ("no",)),
    Resource("events", "event", "Event", "", "v1", True, ("ev",)),
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",)),
    Resource(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        "",
        "v1",
        True,
        ("pvc",),
    ),
    Resource("persistentvolumes", "persistentvolume", "PersistentVolume", "", "v1", False, ("pv",)),
    Resource("resourcequotas", "resourcequota", "ResourceQuota", "", "v1", True, ("quota",)),
    Resource(
        "deployments",
        "deployment",
        "Deployment",
        "apps",
        "v1",
        True,
        ("deploy",),
        categories=("all",),
    ),
    Resource(
        "replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ("rs",), categories=("all",)
    ),
    Resource(
        "statefulsets",
        "statefulset",
        "StatefulSet",
        "apps",
        "v1",
        True,
        ("sts",),
        categories=("all",),
    ),
    Resource(
        "daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ("ds",), categories=("all",)
    ),
    Resource("jobs", "job", "Job", "batch", "v1", True, (), categories=("all",)),
    Resource("cronjobs", "cronjob", "CronJob", "batch", "v1", True, ("cj",), categories=("all",)),
    Resource(
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        True,
        ("hpa",),
        categories=("all",),
    ),
    Resource(
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        "policy",
        "v1",
        True,
        ("pdb",),
    ),
    # Read by lookups (tools, evidence), not by collection.
    Resource("services", "service", "Service", "", "v1", True, ("svc",), categories=("all",)),
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    Resource("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", True),
    Resource("nodes", "", "NodeMetrics", "metrics.k8s.io", "v1beta1", False, key="metrics:nodes"),
    Resource("pods", "", "PodMetrics", "metrics.k8s.io", "v1beta1", True, key="metrics:pods"),
)

BY_PATH: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}


def group_versions(with_metrics: bool) -> list[tuple[str, str]]:
    """(group, version) pairs served under /apis, in a stable order."""
    seen: list[tuple[str, str]] = []
    for resource in RESOURCES:
        pair = (resource.group, resource.version)
        if not resource.group or pair in seen:
            continue
        if resource.is_metrics and not with_metrics:
            continue
        seen.append(pair)
    return seen


def api_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(group: str, version: str) -> JSON:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list(with_metrics: bool) -> JSON:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, v) for g, v in group_versions(with_metrics)],
    }


def api_group(group: str, with_metrics: bool) -> JSON | None:
    for g, v in group_versions(with_metrics):
        if g == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(g, v)}
    return None


def api_resource_list(group: str, version: str, with_metrics: bool) -> JSON | None:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members or (members[0].is_metrics and not with_metrics):
        return None
    resources: list[JSON] = []
    for r in members:
        entry: JSON = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["get", "list"],
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        if r.kind == "Pod" and not r.is_metrics:
            resources.append(
                {
                    "name": "pods/log",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# --- Status errors ---------------------------------------------------------------------------

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


def status(
    code: int, message: str, *, reason: str | None = None, details: JSON | None = None
) -> JSON:
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def not_found_path() -> JSON:
    return status(404, "the server could not find the requested resource", details={})


def not_found_object(resource: Resource, name: str) -> JSON:
    details: JSON = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    prefix = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    return status(404, f'{prefix} "{name}" not found', details=details)


def forbidden(
    resource: str, group: str, verb: str, namespace: str | None, name: str | None, user: str
) -> JSON:
    base = resource.split("/")[0]
    subject = f'{base} "{name}"' if name else base
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {scope}'
    )
    details: JSON = {"kind": base}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return status(403, message, details=details)


def fault_status(code: int, resource: str) -> JSON:
    if code == 500:
        cause = "etcdserver: request timed out"
        return status(
            500,
            f"Internal error occurred: {cause}",
            details={"causes": [{"message": cause}]},
        )
    if code == 410:
        return status(410, EXPIRED_MESSAGE)
    if code == 429:
        return status(
            429,
            "the server has received too many requests and has asked us to try again later",
            details={"retryAfterSeconds": 1},
        )
    if code == 503:
        return status(503, "the server is currently unable to handle the request")
    if code == 504:
        return status(
            504,
            "the server was unable to return a response in the time allotted, but may still "
            f"be processing the request (get {resource})",
            details={"kind": resource},
        )
    return status(code, f"simulated failure listing {resource}")
