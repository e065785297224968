"""What event, condition and waiting messages say about a cause in another object.

Kubernetes names the object behind many failures in plain text: the quota that refused a pod,
the admission webhook that timed out, the ConfigMap key that is missing. These parsers turn that
text into a :class:`CauseRef` (or a classified scheduler verdict) and nothing else; the rules
decide what the finding is. Messages are untrusted text: names are taken only from the fixed
phrases below and cut to the length a Kubernetes name can have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from k8s_monitor.analysis.findings import CauseRef

MAX_NAME = 253

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_QUOTA = re.compile(rf"exceeded quota: (?P<name>{_NAME})")
_WEBHOOK_CALL = re.compile(rf"failed calling webhook \"(?P<name>{_NAME})\"")
_WEBHOOK_DENIED = re.compile(rf"admission webhook \"(?P<name>{_NAME})\" denied the request")
_PRIORITY_CLASS = re.compile(rf"no PriorityClass with name (?P<name>{_NAME}) was found")
_SERVICE_ACCOUNT = re.compile(
    rf"error looking up service account (?P<ns>{_NAME})/(?P<name>{_NAME})|"
    rf"serviceaccount \"(?P<bare>{_NAME})\" not found"
)
_POD_SECURITY = re.compile(r"violates PodSecurity \"(?P<level>[^\"]{1,60})\"")
_CONFIG_KEY = re.compile(
    rf"couldn't find key (?P<key>{_NAME}) in "
    rf"(?P<kind>ConfigMap|Secret) (?P<ns>{_NAME})/(?P<name>{_NAME})"
)
_CONFIG_MISSING = re.compile(rf"(?P<kind>configmap|secret)s? \"(?P<name>{_NAME})\" not found", re.I)
_STORAGE_CLASS = re.compile(rf"storageclass\.storage\.k8s\.io \"(?P<name>{_NAME})\" not found")
_NODEPOOL = re.compile(rf"nodepool:? \"(?P<name>{_NAME})\"")
_CNI_IP = re.compile(
    r"failed to assign an IP address to container|"
    r"InsufficientFreeAddressesInSubnet|no available IP|"
    r"failed to allocate for range|ipamd .*(?:out of|no free) (?:IPs|addresses)",
    re.I,
)


def _clip(name: str) -> str:
    return name.rstrip(".,;:")[:MAX_NAME]


def failed_create_cause(message: str, namespace: str) -> CauseRef | None:
    """The object that stopped a controller from creating a pod, from its FailedCreate text."""
    if match := _QUOTA.search(message):
        return CauseRef(
            kind="ResourceQuota",
            namespace=namespace,
            name=_clip(match["name"]),
            reason="QuotaExceeded",
        )
    if match := _WEBHOOK_DENIED.search(message):
        return CauseRef(
            kind="AdmissionWebhook", namespace="", name=_clip(match["name"]), reason="WebhookDenied"
        )
    if match := _WEBHOOK_CALL.search(message):
        return CauseRef(
            kind="AdmissionWebhook",
            namespace="",
            name=_clip(match["name"]),
            reason="WebhookUnavailable",
        )
    if match := _PRIORITY_CLASS.search(message):
        return CauseRef(
            kind="PriorityClass", namespace="", name=_clip(match["name"]), reason="NotFound"
        )
    if match := _SERVICE_ACCOUNT.search(message):
        name = match["name"] or match["bare"]
        where = match["ns"] or namespace
        return CauseRef(kind="ServiceAccount", namespace=where, name=_clip(name), reason="NotFound")
    if match := _POD_SECURITY.search(message):
        return CauseRef(
            kind="Namespace", namespace="", name=namespace, reason="PodSecurityViolation"
        )
    return None


def config_cause(message: str, namespace: str) -> CauseRef | None:
    """The ConfigMap or Secret (or key) a CreateContainerConfigError names."""
    if match := _CONFIG_KEY.search(message):
        return CauseRef(
            kind=match["kind"],
            namespace=_clip(match["ns"]),
            name=_clip(match["name"]),
            reason="KeyNotFound",  # the key itself is in the finding's message
        )
    if match := _CONFIG_MISSING.search(message):
        kind = "ConfigMap" if match["kind"].lower() == "configmap" else "Secret"
        return CauseRef(
            kind=kind, namespace=namespace, name=_clip(match["name"]), reason="NotFound"
        )
    return None


_VOLUME = re.compile(rf"(?:for|of) volume \"(?P<name>{_NAME})\"")


def volume_cause(message: str) -> CauseRef | None:
    """The PersistentVolume an attach failure names (another node holds it, or the API refused)."""
    match = _VOLUME.search(message)
    if match is None or "Attach" not in message:
        return None
    reason = "MultiAttach" if "Multi-Attach" in message else "AttachFailed"
    return CauseRef(kind="PersistentVolume", namespace="", name=_clip(match["name"]), reason=reason)


def missing_storage_class(message: str) -> str | None:
    match = _STORAGE_CLASS.search(message)
    return _clip(match["name"]) if match else None


def cni_out_of_ips(message: str) -> bool:
    """A sandbox failure because the VPC CNI (or another IPAM) has no address to give."""
    return _CNI_IP.search(message) is not None


def nodepool(message: str) -> str | None:
    match = _NODEPOOL.search(message)
    return _clip(match["name"]) if match else None


# --- the scheduler's verdict ---------------------------------------------------------------------

# Node filters no amount of waiting fixes: the pod asks for nodes that do not exist.
PERMANENT_FILTERS: dict[str, re.Pattern[str]] = {
    "node affinity/selector": re.compile(r"didn't match Pod's node affinity(?:/selector)?"),
    "untolerated taint": re.compile(
        r"had untolerated taint \{(?P<taint>[^}]*)\}|had taints? \{(?P<old>[^}]*)\}, that the pod"
    ),
    "volume node affinity conflict": re.compile(r"had volume node affinity conflict"),
}
# Taints the node lifecycle sets and lifts by itself: a node that is not ready or is cordoned.
TRANSIENT_TAINTS = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/uninitialized",
    "ToBeDeletedByClusterAutoscaler",
    "karpenter.sh/disrupted",
    "karpenter.sh/disruption",
    "DeletionCandidateOfClusterAutoscaler",
)


@dataclass(frozen=True)
class SchedulingVerdict:
    """The scheduler's reasons, split into constraints no node meets and passing shortages."""

    permanent: tuple[str, ...]
    transient: tuple[str, ...]

    @property
    def impossible(self) -> bool:
        """Every reason is a constraint no node can meet: waiting will not help."""
        return bool(self.permanent) and not self.transient


def scheduling_verdict(message: str) -> SchedulingVerdict:
    """Classify ``0/5 nodes are available: 2 node(s) didn't match ..., 3 Insufficient cpu.``"""
    head = message.split("preemption:", 1)[0]
    _, _, reasons = head.partition("nodes are available:")
    permanent: list[str] = []
    transient: list[str] = []
    for clause in (reasons or head).split(", "):
        text = clause.strip().rstrip(".")
        if not text:
            continue
        label = _permanent_label(text)
        if label is not None:
            permanent.append(label)
        else:  # shortages, cordons, unbound claims, and anything unknown: worth the grace
            transient.append(text[:120])
    return SchedulingVerdict(tuple(dict.fromkeys(permanent)), tuple(transient))


def _permanent_label(text: str) -> str | None:
    for label, pattern in PERMANENT_FILTERS.items():
        match = pattern.search(text)
        if match is None:
            continue
        if label == "untolerated taint":
            taint = (match["taint"] or match["old"] or "").strip()
            if any(taint.startswith(prefix) for prefix in TRANSIENT_TAINTS):
                return None
            return f"taint {{{taint}}} not tolerated"
        return label
    return None
