"""What collection lists: one row per API resource, with its path, struct and RBAC rule.

The table is the single place that ties a REST path to a snapshot attribute, so adding a
resource is one line here plus a field in the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k8s_monitor.cluster import snapshot as s


@dataclass(frozen=True, slots=True)
class Resource:
    """One listable API resource."""

    plural: str  # REST resource name, e.g. "pods"
    group: str  # "" for the core group
    version: str
    struct: type[Any]  # the compact item struct
    attribute: str  # ClusterSnapshot attribute
    namespaced: bool = True
    label_selector: bool = False  # LABEL_SELECTOR applies (workload objects, not infrastructure)
    optional_api: bool = False  # a 404 means "not served here" (metrics.k8s.io), not a gap
    field_selector: str = ""  # narrows the list server-side (events of one reason)

    @property
    def api_prefix(self) -> str:
        return "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"

    def path(self, namespace: str | None = None) -> str:
        if namespace is not None and self.namespaced:
            return f"{self.api_prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.api_prefix}/{self.plural}"

    @property
    def rbac_rule(self) -> str:
        """The ClusterRole rule that grants this list, as YAML flow text."""
        return (
            f'{{apiGroups: ["{self.group}"], resources: ["{self.plural}"], '
            f'verbs: ["get", "list", "watch"]}}'
        )

    @property
    def display(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("pods", "", "v1", s.Pod, "pods", label_selector=True)
NODES = Resource("nodes", "", "v1", s.Node, "nodes", namespaced=False)
EVENTS = Resource("events", "", "v1", s.Event, "events")
# Warning events are listed above; the cluster autoscaler says why it will not add a node in a
# Normal event, the one Normal event a rule needs.
SCALE_UP_EVENTS = Resource(
    "events", "", "v1", s.Event, "events", field_selector="reason=NotTriggerScaleUp"
)
NAMESPACES = Resource("namespaces", "", "v1", s.Namespace, "namespaces", namespaced=False)
NODE_METRICS = Resource(
    "nodes",
    "metrics.k8s.io",
    "v1beta1",
    s.NodeMetrics,
    "node_metrics",
    namespaced=False,
    optional_api=True,
)
POD_METRICS = Resource(
    "pods",
    "metrics.k8s.io",
    "v1beta1",
    s.PodMetrics,
    "pod_metrics",
    label_selector=True,
    optional_api=True,
)

RESOURCES: tuple[Resource, ...] = (
    PODS,
    NODES,
    EVENTS,
    SCALE_UP_EVENTS,
    NAMESPACES,
    Resource("deployments", "apps", "v1", s.Deployment, "deployments", label_selector=True),
    Resource("replicasets", "apps", "v1", s.ReplicaSet, "replicasets", label_selector=True),
    Resource("statefulsets", "apps", "v1", s.StatefulSet, "statefulsets", label_selector=True),
    Resource("daemonsets", "apps", "v1", s.DaemonSet, "daemonsets", label_selector=True),
    Resource("jobs", "batch", "v1", s.Job, "jobs", label_selector=True),
    Resource("cronjobs", "batch", "v1", s.CronJob, "cronjobs", label_selector=True),
    Resource("persistentvolumeclaims", "", "v1", s.PersistentVolumeClaim, "pvcs"),
    Resource("persistentvolumes", "", "v1", s.PersistentVolume, "pvs", namespaced=False),
    Resource("horizontalpodautoscalers", "autoscaling", "v2", s.HorizontalPodAutoscaler, "hpas"),
    Resource("poddisruptionbudgets", "policy", "v1", s.PodDisruptionBudget, "pdbs"),
    Resource("resourcequotas", "", "v1", s.ResourceQuota, "resource_quotas"),
    Resource("services", "", "v1", s.Service, "services"),
    Resource("endpointslices", "discovery.k8s.io", "v1", s.EndpointSlice, "endpoint_slices"),
    Resource(
        "storageclasses",
        "storage.k8s.io",
        "v1",
        s.StorageClass,
        "storage_classes",
        namespaced=False,
    ),
    NODE_METRICS,
    POD_METRICS,
)

POD_LOGS_RULE = '{apiGroups: [""], resources: ["pods/log"], verbs: ["get"]}'

# The ClusterRole the manifests in deploy/ bind to the monitor's service account.
CLUSTER_ROLE = "k8s-monitor-read"


def unobserved_kinds(gaps: list[s.CollectionGap]) -> frozenset[str]:
    """The kinds whose lists a snapshot is missing, from its collection gaps.

    Optional APIs are left out: a forbidden metrics API hides usage figures, not the pods and
    nodes themselves.
    """
    missing = {(gap.api_group, gap.resource) for gap in gaps}
    kind_of = {struct: kind for kind, (struct, _) in s.KINDS.items()}
    return frozenset(
        kind_of[r.struct]
        for r in RESOURCES
        if not r.optional_api and (r.group, r.plural) in missing
    )
