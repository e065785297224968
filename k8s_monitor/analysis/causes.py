"""The cause graph: which finding is explained by another object, and the root of each chain.

``link_causes`` sets ``Finding.caused_by`` where the trouble comes from another object:

- pods on a NotReady or pressured node -> the node;
- a container config error (and a volume that will not mount) -> the missing ConfigMap, Secret,
  key or claim named in the waiting message or the events;
- a pending pod -> its pending claim; a pending claim -> its missing StorageClass; a pod that
  cannot be placed beside its volume -> the volume;
- a workload that cannot create pods -> the ResourceQuota, admission webhook, PriorityClass or
  ServiceAccount named in its FailedCreate events or its ReplicaFailure condition;
- pods of one owner failing alike, all of them from a revision rolled out in the last hours ->
  that revision (the Deployment's new ReplicaSet, the StatefulSet's update revision);
- a workload short of replicas -> the failure of its own pods; a Service without ready
  endpoints -> the failing workload behind it.

A cause a rule already set is kept. ``group_by_root_cause`` follows each chain to its end and
returns one group per root cause with its symptoms attached. Everything here is pure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import RootObject, root_cause_entry
from k8s_monitor.analysis.owners import OwnerIndex
from k8s_monitor.cluster.snapshot import ClusterSnapshot, Pod, ReplicaSet
from k8s_monitor.report import IncidentRecord

# A rollout older than this is history, not the explanation of a failure that began now.
ROLLOUT_WINDOW = timedelta(hours=6)
MAX_CHAIN = 6
# Where a finding's own reason is explained by the node, the node is the cause of its pods.
NODE_ROOT_REASONS = ("NodeNotReady", "NodePressure")
# Failures the node a pod runs on cannot cause: the image or the pod's own configuration is
# wrong wherever it runs. A pod showing one is no victim of a bad node it happens to be on.
NODE_INDEPENDENT_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
WORKLOAD_SHORTFALL = frozenset(
    {
        "DeploymentUnavailable",
        "StatefulSetUnavailable",
        "DaemonSetUnavailable",
        "RolloutStuck",
        "ReplicaFailure",
    }
)
POD_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "ContainerCannotRun",
        "InitContainerFailed",
        "OOMKilled",
        "HighRestarts",
        "Unschedulable",
        "FailedMount",
        "PodNotReady",
        "PodFailed",
        "Evicted",
    }
)
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CAUSE_DETAIL = "cause_detail"  # evidence key: one line saying how the cause was found
# Evidence key of the typed records the evidence stage adds (investigate.evidence).
INVESTIGATION = "investigation"

_CONFIG_MISSING = re.compile(r"\b(configmap|secret)s? \"([^\"]+)\" not found", re.IGNORECASE)
_KEY_MISSING = re.compile(
    r"couldn't find key (\S+) in (ConfigMap|Secret) ([\w.-]+)/([\w.-]+)", re.IGNORECASE
)
_CLAIM_MISSING = re.compile(r"persistentvolumeclaims? \"([^\"]+)\" not found", re.IGNORECASE)
_STORAGE_CLASS_MISSING = re.compile(
    r"storageclass(?:\.storage\.k8s\.io)? \"([^\"]+)\" not found", re.IGNORECASE
)
_QUOTA = re.compile(r"exceeded quota: ([\w.-]+)")
_WEBHOOK_DENIED = re.compile(r"admission webhook \"([^\"]+)\" denied the request")
_WEBHOOK_FAILED = re.compile(r"failed calling webhook \"([^\"]+)\"")
_PRIORITY_CLASS = re.compile(r"no PriorityClass with name ([\w.-]+) was found")
_SERVICE_ACCOUNT = re.compile(r"serviceaccounts? \"([^\"]+)\" not found")
_VOLUME_ZONE = re.compile(r"volume node affinity conflict", re.IGNORECASE)


@dataclass(frozen=True)
class CauseGroup:
    """One root cause and the findings it explains. ``root_finding`` is the root's own finding."""

    root: RootObject
    root_finding: Finding | None
    symptoms: tuple[Finding, ...]

    @property
    def fingerprint(self) -> str:
        return self.root.fingerprint

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (self.root_finding, *self.symptoms) if self.root_finding else self.symptoms

    @property
    def severity(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def entry(self) -> IncidentRecord:
        """The same shape as ``Incident.entry``, for a one-off analysis with no ledger."""
        return root_cause_entry(
            self.fingerprint, self.root, self.severity, [f.fingerprint for f in self.findings]
        )


# --- the message parsers (shared with the evidence stage) ---------------------------------------


def config_cause(text: str, namespace: str) -> tuple[CauseRef, str] | None:
    """The missing ConfigMap, Secret or key a kubelet message names, and a one-line detail."""
    key = _KEY_MISSING.search(text)
    if key is not None:
        name_key, kind, ns, name = key.groups()
        kind = "ConfigMap" if kind.lower() == "configmap" else "Secret"
        cause = CauseRef(kind=kind, namespace=ns, name=name, reason="KeyNotFound")
        return cause, f"{kind} {ns}/{name} has no key {name_key}"
    missing = _CONFIG_MISSING.search(text)
    if missing is not None:
        kind = "ConfigMap" if missing.group(1).lower().startswith("configmap") else "Secret"
        name = missing.group(2)
        cause = CauseRef(kind=kind, namespace=namespace, name=name, reason="NotFound")
        return cause, f"{kind} {namespace}/{name} does not exist"
    claim = _CLAIM_MISSING.search(text)
    if claim is not None:
        name = claim.group(1)
        cause = CauseRef(
            kind="PersistentVolumeClaim", namespace=namespace, name=name, reason="NotFound"
        )
        return cause, f"claim {namespace}/{name} does not exist"
    return None


def storage_class_cause(text: str) -> tuple[CauseRef, str] | None:
    found = _STORAGE_CLASS_MISSING.search(text)
    if found is None:
        return None
    name = found.group(1)
    cause = CauseRef(kind="StorageClass", namespace="", name=name, reason="NotFound")
    return cause, f"StorageClass {name} does not exist"


def failed_create_cause(text: str, namespace: str) -> tuple[CauseRef, str] | None:
    """The object a FailedCreate message blames: quota, webhook, PriorityClass, ServiceAccount."""
    quota = _QUOTA.search(text)
    if quota is not None:
        name = quota.group(1)
        cause = CauseRef(
            kind="ResourceQuota", namespace=namespace, name=name, reason="QuotaExceeded"
        )
        return cause, f"ResourceQuota {namespace}/{name} is exhausted"
    for pattern, reason, verb in (
        (_WEBHOOK_DENIED, "WebhookDenied", "denies"),
        (_WEBHOOK_FAILED, "WebhookUnavailable", "cannot be called for"),
    ):
        hook = pattern.search(text)
        if hook is not None:
            name = hook.group(1)
            cause = CauseRef(kind="AdmissionWebhook", namespace="", name=name, reason=reason)
            return cause, f"admission webhook {name} {verb} the pods"
    priority = _PRIORITY_CLASS.search(text)
    if priority is not None:
        name = priority.group(1)
        cause = CauseRef(kind="PriorityClass", namespace="", name=name, reason="NotFound")
        return cause, f"PriorityClass {name} does not exist"
    account = _SERVICE_ACCOUNT.search(text)
    if account is not None:
        name = account.group(1)
        cause = CauseRef(kind="ServiceAccount", namespace=namespace, name=name, reason="NotFound")
        return cause, f"ServiceAccount {namespace}/{name} does not exist"
    return None


# --- the graph --------------------------------------------------------------------------------


class _Index:
    """What the inference reads, indexed once per cycle."""

    def __init__(self, findings: list[Finding], snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        self.pods = select_pods(snapshot, findings)
        self.owners = OwnerIndex(snapshot)
        self.pvcs = {(c.metadata.namespace, c.metadata.name): c for c in snapshot.pvcs}
        self.bad_nodes: dict[str, str] = {}
        for reason in reversed(NODE_ROOT_REASONS):  # NotReady wins over pressure
            for finding in findings:
                if finding.reason == reason and finding.subject.kind == "Node":
                    self.bad_nodes[finding.subject.name] = reason
        self.by_subject: dict[ObjectRef, list[Finding]] = {}
        for finding in findings:
            self.by_subject.setdefault(finding.subject, []).append(finding)
        self.replicasets: dict[tuple[str, str], list[ReplicaSet]] = {}
        for rs in snapshot.replicasets:
            owner = rs.metadata.controller_ref()
            if owner is not None and owner.kind == "Deployment":
                key = (rs.metadata.namespace, owner.name)
                self.replicasets.setdefault(key, []).append(rs)
        self._unready_by_root: dict[ObjectRef, list[Pod]] | None = None
        self.events: dict[tuple[str, str, str], list[str]] = {}
        for event in snapshot.events:
            obj = event.involved_object
            text = f"{event.reason}: {event.message}"
            self.events.setdefault((obj.kind, obj.namespace, obj.name), []).append(text)

    def affected_pods(self, finding: Finding) -> list[Pod]:
        names = set(pod_refs(finding))
        pods = [self.pods[key] for key in sorted(names) if key in self.pods]
        if pods or finding.subject.kind == "Pod":
            return pods
        # A workload finding that names no pod: its live, unready pods.
        return self.unready_by_root().get(finding.subject, [])

    def unready_by_root(self) -> dict[ObjectRef, list[Pod]]:
        if self._unready_by_root is None:
            index: dict[ObjectRef, list[Pod]] = {}
            for pod in self.snapshot.pods:
                if _unready(pod):
                    index.setdefault(self.owners.root_of("Pod", pod.metadata), []).append(pod)
            self._unready_by_root = index
        return self._unready_by_root


def pod_refs(finding: Finding) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every pod a finding names: subject, objects, evidence."""
    for ref in (finding.subject, *finding.objects):
        if ref.kind == "Pod":
            yield ref.namespace, ref.name
    listed = finding.evidence.get("pods")
    if isinstance(listed, list):
        for name in listed:
            yield finding.subject.namespace, str(name)
    named = finding.evidence.get("pod")
    if isinstance(named, str):
        yield finding.subject.namespace, named


def select_pods(
    snapshot: ClusterSnapshot, findings: Iterable[Finding]
) -> dict[tuple[str, str], Pod]:
    """The pods the findings name, by (namespace, name), without indexing every pod."""
    wanted: dict[str, set[str]] = {}
    for finding in findings:
        for namespace, name in pod_refs(finding):
            wanted.setdefault(namespace, set()).add(name)
    found: dict[tuple[str, str], Pod] = {}
    for pod in snapshot.pods:
        names = wanted.get(pod.metadata.namespace)
        if names is not None and pod.metadata.name in names:
            found[(pod.metadata.namespace, pod.metadata.name)] = pod
    return found


def _fails_on_any_node(pod: Pod) -> bool:
    statuses = (*pod.status.init_container_statuses, *pod.status.container_statuses)
    return any(
        s.state.waiting is not None and s.state.waiting.reason in NODE_INDEPENDENT_REASONS
        for s in statuses
    )


def _unready(pod: Pod) -> bool:
    if pod.status.phase in ("Succeeded",):
        return False
    ready = next((c for c in pod.status.conditions if c.type == "Ready"), None)
    return ready is None or ready.status != "True"


def link_causes(
    findings: list[Finding], snapshot: ClusterSnapshot, *, now: datetime
) -> list[Finding]:
    """The findings, each with ``caused_by`` set where another object explains it."""
    index = _Index(findings, snapshot)
    result: list[Finding] = []
    for finding in findings:
        if finding.caused_by is not None:
            result.append(_described(finding, index))
            continue
        found = _infer(finding, index, now)
        if found is None:
            result.append(finding)
            continue
        cause, detail = found
        evidence = {**finding.evidence, CAUSE_DETAIL: detail}
        result.append(msgspec.structs.replace(finding, caused_by=cause, evidence=evidence))
    return result


def _described(finding: Finding, index: _Index) -> Finding:
    """A cause a rule set, with the one-line detail the parsers give when they agree on it."""
    cause = finding.caused_by
    if cause is None or CAUSE_DETAIL in finding.evidence:
        return finding
    namespace = finding.subject.namespace
    for text in _texts(finding, index):
        for parsed in (
            config_cause(text, namespace),
            failed_create_cause(text, namespace),
            storage_class_cause(text),
        ):
            if parsed is not None and parsed[0].ref == cause.ref:
                evidence = {**finding.evidence, CAUSE_DETAIL: parsed[1]}
                return msgspec.structs.replace(finding, evidence=evidence)
    return finding


def _infer(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    if finding.subject.kind == "Node":
        return None
    for infer in (
        _node_cause,
        _config_cause,
        _storage_cause,
        _failed_create_cause,
        _rollout_cause,
        _own_pods_cause,
        _service_cause,
    ):
        found = infer(finding, index, now)
        if found is not None and (found[0].ref, found[0].reason) != (
            finding.subject,
            finding.reason,
        ):
            return found
    return None


def _node_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    if not index.bad_nodes or finding.reason in NODE_INDEPENDENT_REASONS:
        return None
    pods = [p for p in index.affected_pods(finding) if not _fails_on_any_node(p)]
    placed = [p.spec.node_name for p in pods if p.spec.node_name]
    if not placed:
        return None
    on_bad = Counter(node for node in placed if node in index.bad_nodes)
    if not on_bad or sum(on_bad.values()) * 2 < len(placed):
        return None
    node, count = on_bad.most_common(1)[0]
    reason = index.bad_nodes[node]
    cause = CauseRef(kind="Node", namespace="", name=node, reason=reason)
    return cause, f"{count} of {len(placed)} affected pod(s) run on node {node} ({reason})"


def _texts(finding: Finding, index: _Index) -> Iterator[str]:
    """Every message that may name the cause: the finding's, its evidence's, its events'."""
    yield finding.message
    yield from _strings(finding.evidence)
    for ref in (finding.subject, *finding.objects):
        yield from index.events.get((ref.kind, ref.namespace, ref.name), [])


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 4:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


def _records(finding: Finding, kind: str) -> Iterator[dict[str, Any]]:
    records = finding.evidence.get(INVESTIGATION)
    if isinstance(records, list):
        for record in records:
            if isinstance(record, dict) and record.get("type") == kind:
                yield record


def _config_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    if finding.reason not in ("CreateContainerConfigError", "FailedMount", "ContainerCannotRun"):
        return None
    for text in _texts(finding, index):
        found = config_cause(text, finding.subject.namespace)
        if found is not None:
            return found
    for record in _records(finding, "config_ref"):
        if record.get("optional"):
            continue
        kind, namespace, name = record["kind"], record["namespace"], record["name"]
        if record.get("exists") is False:
            cause = CauseRef(kind=kind, namespace=namespace, name=name, reason="NotFound")
            return cause, f"{kind} {namespace}/{name} does not exist (read by the monitor)"
        missing = record.get("missing_keys") or []
        if missing:
            cause = CauseRef(kind=kind, namespace=namespace, name=name, reason="KeyNotFound")
            return cause, f"{kind} {namespace}/{name} has no key {', '.join(missing)}"
    return None


def _storage_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    namespace = finding.subject.namespace
    if finding.subject.kind == "PersistentVolumeClaim":
        for text in _texts(finding, index):
            found = storage_class_cause(text)
            if found is not None:
                return found
        return None
    if finding.reason not in ("Unschedulable", "FailedMount", "PodNotReady"):
        return None
    texts = list(_texts(finding, index))
    zone_conflict = any(_VOLUME_ZONE.search(t) for t in texts) or any(
        r.get("zone_conflict") for r in _records(finding, "volume")
    )
    for pod in index.affected_pods(finding):
        for volume in pod.spec.volumes:
            claim_ref = volume.persistent_volume_claim
            if claim_ref is None:
                continue
            claim = index.pvcs.get((namespace, claim_ref.claim_name))
            if claim is None:
                continue
            if claim.status.phase == "Pending":
                cause = CauseRef(
                    kind="PersistentVolumeClaim",
                    namespace=namespace,
                    name=claim.metadata.name,
                    reason=_claim_reason(claim.metadata.name, namespace, index),
                )
                return cause, f"pod {pod.metadata.name} waits for claim {claim.metadata.name}"
            if zone_conflict and claim.spec.volume_name:
                cause = CauseRef(
                    kind="PersistentVolume",
                    namespace="",
                    name=claim.spec.volume_name,
                    reason="VolumeNodeAffinityConflict",
                )
                return cause, (
                    f"volume {claim.spec.volume_name} of claim {claim.metadata.name} is bound to"
                    " a zone no schedulable node is in"
                )
    return None


def _claim_reason(name: str, namespace: str, index: _Index) -> str:
    ref = ObjectRef(kind="PersistentVolumeClaim", namespace=namespace, name=name)
    own = index.by_subject.get(ref, [])
    return own[0].reason if own else "Pending"


def _failed_create_cause(
    finding: Finding, index: _Index, now: datetime
) -> tuple[CauseRef, str] | None:
    subject = finding.subject
    if subject.kind not in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return None
    texts = list(_texts(finding, index))
    if subject.kind == "Deployment":
        for rs in index.replicasets.get((subject.namespace, subject.name), []):
            texts += index.events.get(("ReplicaSet", rs.metadata.namespace, rs.metadata.name), [])
    for text in texts:
        found = failed_create_cause(text, subject.namespace)
        if found is not None:
            return found
    return None


def _rollout_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    subject = finding.subject
    if subject.kind == "Deployment":
        return _deployment_rollout(finding, index, now)
    if subject.kind == "StatefulSet":
        return _statefulset_rollout(finding, index)
    return None


def _revision(rs: ReplicaSet) -> int:
    try:
        return int(rs.metadata.annotations.get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _deployment_rollout(
    finding: Finding, index: _Index, now: datetime
) -> tuple[CauseRef, str] | None:
    subject = finding.subject
    sets = sorted(
        index.replicasets.get((subject.namespace, subject.name), []),
        key=lambda rs: (_revision(rs), rs.metadata.creation_timestamp or now),
    )
    if len(sets) < 2:
        return None
    newest = sets[-1]
    created = newest.metadata.creation_timestamp
    if created is None or now - created > ROLLOUT_WINDOW:
        return None
    pods = [p for p in index.affected_pods(finding) if _unready(p) or p.status.phase == "Failed"]
    if not pods:
        return None
    if {_owner_name(p) for p in pods} != {newest.metadata.name}:
        return None
    cause = CauseRef(
        kind="ReplicaSet", namespace=subject.namespace, name=newest.metadata.name, reason="Rollout"
    )
    return cause, (
        f"all {len(pods)} failing pod(s) belong to revision {_revision(newest) or '?'}"
        f" ({newest.metadata.name}) of Deployment {subject.name}, rolled out at"
        f" {created.isoformat()}; the previous revision's pods do not fail"
    )


def _owner_name(pod: Pod) -> str:
    owner = pod.metadata.controller_ref()
    return owner.name if owner is not None else ""


def _statefulset_rollout(finding: Finding, index: _Index) -> tuple[CauseRef, str] | None:
    subject = finding.subject
    sts = next(
        (
            s
            for s in index.snapshot.statefulsets
            if s.metadata.namespace == subject.namespace and s.metadata.name == subject.name
        ),
        None,
    )
    if sts is None:
        return None
    update, current = sts.status.update_revision, sts.status.current_revision
    if not update or update == current:
        return None
    pods = [p for p in index.affected_pods(finding) if _unready(p)]
    revisions = {p.metadata.labels.get("controller-revision-hash", "") for p in pods}
    if not pods or revisions != {update}:
        return None
    cause = CauseRef(
        kind="ControllerRevision", namespace=subject.namespace, name=update, reason="Rollout"
    )
    return cause, f"all {len(pods)} failing pod(s) run the update revision {update}"


def _own_pods_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    """A workload short of replicas is explained by its own pods' failure, when one is known."""
    if finding.reason not in WORKLOAD_SHORTFALL:
        return None
    own = [
        f
        for f in index.by_subject.get(finding.subject, [])
        if f.reason in POD_REASONS and f.reason != finding.reason
    ]
    if not own:
        return None
    worst = max(own, key=lambda f: (f.severity.rank, f.reason))
    cause = CauseRef(
        kind=worst.subject.kind,
        namespace=worst.subject.namespace,
        name=worst.subject.name,
        reason=worst.reason,
    )
    return cause, f"its pods fail with {worst.reason}"


def _service_cause(finding: Finding, index: _Index, now: datetime) -> tuple[CauseRef, str] | None:
    """A Service without ready endpoints: the failing workload its selector picks."""
    if finding.subject.kind != "Service":
        return None
    roots: Counter[ObjectRef] = Counter()
    for pod in index.affected_pods(finding):
        roots[index.owners.root_of("Pod", pod.metadata)] += 1
    for obj in finding.objects:
        if obj.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            roots[obj] += 1
    for root, _ in roots.most_common():
        own = index.by_subject.get(root, [])
        if own:
            worst = max(own, key=lambda f: (f.severity.rank, f.reason in POD_REASONS, f.reason))
            cause = CauseRef(
                kind=root.kind, namespace=root.namespace, name=root.name, reason=worst.reason
            )
            return cause, f"the pods it selects belong to {root} ({worst.reason})"
    return None


# --- roots and groups -------------------------------------------------------------------------


class _ByCause:
    """Findings by (subject, reason), and by subject alone for causes named loosely."""

    def __init__(self, findings: list[Finding]) -> None:
        self.exact = {(f.subject, f.reason): f for f in findings}
        self.by_ref: dict[ObjectRef, list[Finding]] = {}
        for finding in findings:
            self.by_ref.setdefault(finding.subject, []).append(finding)
        for found in self.by_ref.values():
            # The one to follow: one that has a cause of its own, then the most severe.
            found.sort(key=lambda f: (f.caused_by is None, -f.severity.rank, f.reason))

    def finding_of(self, cause: CauseRef, seen: set[tuple[ObjectRef, str]]) -> Finding | None:
        """The finding a cause points at: same object and reason, else the object's main one.

        A rule may name a workload with a reason of its own words ("PodsNotReady"); when the
        workload has findings, the chain goes on through them.
        """
        exact = self.exact.get((cause.ref, cause.reason))
        if exact is not None:
            return exact
        return next(
            (f for f in self.by_ref.get(cause.ref, []) if (f.subject, f.reason) not in seen),
            None,
        )


def root_cause_of(finding: Finding, index: _ByCause) -> tuple[CauseRef, Finding | None]:
    """The end of ``finding``'s cause chain, and the finding about it when there is one."""
    current: Finding | None = finding
    cause = CauseRef(
        kind=finding.subject.kind,
        namespace=finding.subject.namespace,
        name=finding.subject.name,
        reason=finding.reason,
    )
    seen = {(finding.subject, finding.reason)}
    for _ in range(MAX_CHAIN):
        if current is None or current.caused_by is None:
            break
        nxt = current.caused_by
        if (nxt.ref, nxt.reason) in seen:
            break  # a loop: stop where it closes
        seen.add((nxt.ref, nxt.reason))
        current = index.finding_of(nxt, seen)
        if current is not None:
            seen.add((current.subject, current.reason))
            nxt = CauseRef(
                kind=nxt.kind, namespace=nxt.namespace, name=nxt.name, reason=current.reason
            )
        cause = nxt
    return cause, current


def group_by_root_cause(findings: Iterable[Finding]) -> list[CauseGroup]:
    """One group per root cause, symptoms attached; a finding with no cause is its own root."""
    items = list(findings)
    index = _ByCause(items)
    roots: dict[tuple[ObjectRef, str], CauseRef] = {}
    root_findings: dict[tuple[ObjectRef, str], Finding | None] = {}
    members: dict[tuple[ObjectRef, str], list[Finding]] = {}
    details: dict[tuple[ObjectRef, str], str] = {}
    for finding in items:
        cause, root_finding = root_cause_of(finding, index)
        key = (cause.ref, cause.reason)
        roots[key] = cause
        root_findings[key] = root_finding
        if (
            root_finding is not None
            and root_finding.subject == finding.subject
            and (root_finding.reason == finding.reason)
        ):
            continue
        members.setdefault(key, []).append(finding)
        detail = finding.evidence.get(CAUSE_DETAIL)
        if isinstance(detail, str) and finding.caused_by == cause:
            details.setdefault(key, detail)
    groups = []
    for key in sorted(roots, key=lambda k: (k[0], k[1])):
        cause = roots[key]
        root_finding = root_findings[key]
        symptoms = tuple(
            sorted(members.get(key, []), key=lambda f: (-f.severity.rank, f.reason, f.subject))
        )
        summary = root_finding.message if root_finding is not None else details.get(key, "")
        if not summary:
            summary = f"{cause.kind} {cause.namespace}/{cause.name}: {cause.reason}"
        root = RootObject(
            kind=cause.kind,
            namespace=cause.namespace,
            name=cause.name,
            reason=cause.reason,
            summary=summary[:500],
            observed=root_finding is not None,
        )
        groups.append(CauseGroup(root=root, root_finding=root_finding, symptoms=symptoms))
    return groups
