"""The evidence stage: for each new or worsened finding at warning or above, what a person
would read with kubectl, as typed records on ``finding.evidence["investigation"]``.

Playbooks by finding reason: crashes and error exits (last termination, previous log tail,
referenced ConfigMaps and Secrets, the owner's recent rollout), scheduling (the scheduler's
message parsed, requests against node allocatable), image pulls (the reference parsed, the
class of failure), volumes (claim, StorageClass, zone against the node's), nodes (conditions,
heartbeat, pods there) and jobs (failed pods' exit codes and logs).

Most of it comes from the snapshot. The rest (ConfigMap key names, a previous log the
collection did not keep, an old revision's template) is read through
``EvidenceReads``: bounded GETs, cached per cycle, within a request budget per finding. A read
that fails is recorded in the evidence (``unreadable``) and as a collection gap; the finding is
emitted regardless. Secrets are never read; ConfigMap values never enter the evidence.
Recurring findings keep the evidence gathered when they were new (from the ledger).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec

from k8s_monitor.analysis.causes import (
    INVESTIGATION,
    ROLLOUT_WINDOW,
    config_cause,
    pod_refs,
    select_pods,
)
from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.owners import OwnerIndex
from k8s_monitor.analysis.rules.quantity import parse_quantity
from k8s_monitor.cluster.snapshot import (
    ClusterSnapshot,
    CollectionGap,
    Node,
    Pod,
    PodSpec,
    ReplicaSet,
)
from k8s_monitor.errors import ClusterError
from k8s_monitor.investigate import readings
from k8s_monitor.investigate.records import (
    ConfigRef,
    ImagePull,
    JobRun,
    LogTail,
    NodeState,
    Record,
    Rollout,
    Scheduling,
    Termination,
    Unreadable,
    Volume,
)
from k8s_monitor.redaction import Redact

EVIDENCE_KEY = INVESTIGATION  # the cause graph reads the records under this key
MAX_EVIDENCE_BYTES = 4_096
LOG_CHARS = 1_200
MAX_CONFIG_KEYS = 30
REQUESTS_PER_FINDING = 2
# Log reads are the heaviest (bytes to redact) and collection already keeps the first tails of
# failing containers: a few more per cycle, not one per finding.
MAX_LOG_READS = 10
READ_WORKERS = 8
UNAVAILABLE = "unavailable"  # no reads at all (a dump): records of it are dropped
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt"})  # in every namespace, put there by Kubernetes
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

CRASH_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "OOMKilled",
        "HighRestarts",
        "ContainerCannotRun",
        "InitContainerFailed",
        "PodFailed",
        "CreateContainerConfigError",
    }
)
SCHEDULING_REASONS = frozenset({"Unschedulable"})
PULL_REASONS = frozenset({"ImagePullBackOff"})
VOLUME_REASONS = frozenset({"FailedMount", "PVCPending", "Unschedulable", "FailedAttachVolume"})
NODE_REASONS = frozenset({"NodeNotReady", "NodePressure", "NodeUnschedulable"})
JOB_REASONS = frozenset({"JobFailed", "JobNotCompleted"})
ROLLOUT_REASONS = frozenset(
    {
        *CRASH_REASONS,
        "ImagePullBackOff",
        "DeploymentUnavailable",
        "RolloutStuck",
        "PodNotReady",
        "ReplicaFailure",
    }
)


class EvidenceReads(Protocol):
    """The GETs evidence needs beyond the snapshot. Each raises ``ClusterError`` on failure."""

    def configmap_keys(self, namespace: str, name: str) -> list[str] | None:
        """Key names of a ConfigMap (never values); None when it does not exist."""
        ...

    def previous_log(self, namespace: str, pod: str, container: str) -> str | None:
        """The tail of the previous instance's log; None when there is none."""
        ...

    def replicaset_template(self, namespace: str, name: str) -> PodSpec | None:
        """The pod template of a ReplicaSet; None when it does not exist."""
        ...


@dataclass
class EvidenceOutcome:
    findings: list[Finding]
    investigated: int = 0  # findings that got fresh evidence this cycle
    requests: int = 0  # extra API requests made
    gaps: list[CollectionGap] = field(default_factory=list)
    seconds: float = 0.0


class _Budgeted:
    """The reads, cached per cycle and capped at a request budget."""

    def __init__(self, reads: EvidenceReads | None, budget: int) -> None:
        self._reads = reads
        self.budget = budget
        self.requests = 0
        self._cache: dict[tuple[str, ...], Any] = {}
        self._inflight: dict[tuple[str, ...], threading.Event] = {}
        self._per_resource: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.gaps: dict[tuple[str, str], CollectionGap] = {}

    def call(self, what: str, resource: str, method: str, *args: str) -> Any:
        """``reads.<method>(*args)``, or an ``Unreadable`` saying why there is no value.

        Thread-safe: one read per key however many playbooks ask for it at once.
        """
        key = (resource, method, *args)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if self._reads is None:
                return Unreadable(what=what, reason=UNAVAILABLE, detail="no cluster access")
            waiting = self._inflight.get(key)
            if waiting is None:
                if self.requests >= self.budget or (
                    resource == "pods/log" and self._per_resource[resource] >= MAX_LOG_READS
                ):
                    return Unreadable(
                        what=what, reason="budget", detail="evidence request budget spent"
                    )
                self.requests += 1
                self._per_resource[resource] += 1
                self._inflight[key] = threading.Event()
        if waiting is not None:
            waiting.wait()
            return self._cache[key]
        value: Any = Unreadable(what=what, reason="error", detail="read did not finish")
        try:
            value = getattr(self._reads, method)(*args)
        except ClusterError as exc:
            value = self._failed(what, resource, exc)
        finally:
            with self._lock:
                self._cache[key] = value
                self._inflight.pop(key).set()
        return value

    def _failed(self, what: str, resource: str, exc: ClusterError) -> Unreadable:
        status = getattr(exc, "status", None)
        text = str(exc)
        reason = "forbidden" if status == 403 or "forbidden" in text.lower() else "error"
        with self._lock:
            self._record_gap(resource, reason, status, text)
        return Unreadable(what=what, reason=reason, detail=text[:200])

    def _record_gap(self, resource: str, reason: str, status: Any, text: str) -> None:
        self.gaps.setdefault(
            (resource, reason),
            CollectionGap(
                resource=resource,
                api_group="apps" if resource == "replicasets" else "",
                reason=reason,
                status=status if isinstance(status, int) else None,
                detail=f"evidence read failed: {text[:200]}",
                fix=(
                    f"grant the monitor's ClusterRole get on {resource}"
                    if reason == "forbidden"
                    else ""
                ),
            ),
        )


class _Cluster:
    """Snapshot indexes the playbooks share, built once per cycle."""

    def __init__(self, snapshot: ClusterSnapshot, now: datetime, targets: list[Finding]) -> None:
        self.snapshot = snapshot
        self.now = now
        self.pods = select_pods(snapshot, targets)
        self.nodes = {n.metadata.name: n for n in snapshot.nodes}
        self.pvcs = {(c.metadata.namespace, c.metadata.name): c for c in snapshot.pvcs}
        self.pvs = {v.metadata.name: v for v in snapshot.pvs}
        self.owners = OwnerIndex(snapshot)
        self.logs = {(t.namespace, t.pod, t.container, t.previous): t for t in snapshot.log_tails}
        self._allocatable: list[tuple[str, float, float]] | None = None
        self._pods_by_node: dict[str, list[Pod]] | None = None
        self._lazy = threading.RLock()  # playbooks run on a few threads
        self.replicasets: dict[tuple[str, str], list[ReplicaSet]] = {}
        for rs in snapshot.replicasets:
            owner = rs.metadata.controller_ref()
            if owner is not None and owner.kind == "Deployment":
                self.replicasets.setdefault((rs.metadata.namespace, owner.name), []).append(rs)
        self._pods_by_owner: dict[tuple[str, str], list[Pod]] | None = None
        self.failed_by_root: dict[ObjectRef, list[Pod]] = {}
        for pod in snapshot.pods:
            if pod.status.phase == "Failed":
                root = self.owners.root_of("Pod", pod.metadata)
                self.failed_by_root.setdefault(root, []).append(pod)

    def pods_on(self, node: str) -> list[Pod]:
        with self._lazy:
            return self._pods_on(node)

    def _pods_on(self, node: str) -> list[Pod]:
        if self._pods_by_node is None:
            by_node: dict[str, list[Pod]] = {}
            for pod in self.snapshot.pods:
                if pod.spec.node_name and pod.status.phase not in ("Succeeded", "Failed"):
                    by_node.setdefault(pod.spec.node_name, []).append(pod)
            self._pods_by_node = by_node
        return self._pods_by_node.get(node, [])

    def node_allocatable(self) -> list[tuple[str, float, float]]:
        """(node, cpu cores, memory bytes) allocatable on schedulable nodes, most memory first."""
        with self._lazy:
            if self._allocatable is None:
                rows = [
                    (
                        node.metadata.name,
                        _quantity(node.status.allocatable.get("cpu")),
                        _quantity(node.status.allocatable.get("memory")),
                    )
                    for node in self.snapshot.nodes
                    if not node.spec.unschedulable
                ]
                rows.sort(key=lambda row: (-row[2], -row[1], row[0]))
                self._allocatable = rows
            return self._allocatable

    def representative_pod(self, finding: Finding) -> Pod | None:
        return next((self.pods[k] for k in pod_refs(finding) if k in self.pods), None)

    def pods_of_replicasets(self, namespace: str, names: set[str]) -> dict[str, list[Pod]]:
        """Pods of the ReplicaSets of Deployments mid-rollout (two or more revisions kept)."""
        with self._lazy:
            if self._pods_by_owner is None:
                self._pods_by_owner = self._rollout_pods()
        return {name: self._pods_by_owner.get((namespace, name), []) for name in names}

    def _rollout_pods(self) -> dict[tuple[str, str], list[Pod]]:
        wanted: dict[str, set[str]] = {}
        for (namespace, _), sets in self.replicasets.items():
            if len(sets) >= 2:
                wanted.setdefault(namespace, set()).update(rs.metadata.name for rs in sets)
        found: dict[tuple[str, str], list[Pod]] = {}
        for pod in self.snapshot.pods:
            names = wanted.get(pod.metadata.namespace)
            owner = pod.metadata.controller_ref() if names else None
            if names and owner is not None and owner.name in names:
                found.setdefault((pod.metadata.namespace, owner.name), []).append(pod)
        return found


@functools.lru_cache(maxsize=4_096)
def _quantity(text: str | None) -> float:
    # Requests repeat across pods ("100m", "128Mi"): parse each spelling once.
    if not text:
        return 0.0
    try:
        return parse_quantity(text)
    except ValueError:
        return 0.0


def _requests(spec: PodSpec) -> tuple[float, float]:
    cpu = sum(_quantity(c.resources.get("requests", {}).get("cpu")) for c in spec.containers)
    memory = sum(_quantity(c.resources.get("requests", {}).get("memory")) for c in spec.containers)
    return cpu, memory


# --- the stage -------------------------------------------------------------------------------


def gather_evidence(
    findings: list[Finding],
    snapshot: ClusterSnapshot,
    *,
    previous: Ledger,
    reads: EvidenceReads | None,
    now: datetime,
    redact: Redact,
    deadline_seconds: float = 10.0,
) -> EvidenceOutcome:
    """Findings with evidence: fresh for new or worsened ones, carried over for the rest."""
    started = time.monotonic()
    known = _known_findings(previous)
    targets = [f for f in findings if _needs_evidence(f, known)]
    budget = _Budgeted(reads, REQUESTS_PER_FINDING * len(targets))
    cluster = _Cluster(snapshot, now, targets)

    def investigate(chunk: list[Finding]) -> list[tuple[int, list[Record]]]:
        done: list[tuple[int, list[Record]]] = []
        for finding in chunk:
            if time.monotonic() - started > deadline_seconds:
                late: Record = Unreadable(
                    what="evidence", reason="timeout", detail="evidence deadline"
                )
                done.append((id(finding), [late]))
            else:
                done.append((id(finding), list(_playbook(finding, cluster, budget))))
        return done

    gathered: dict[int, list[Record]] = {}
    if targets:
        # Reads wait on the apiserver: a few workers at once keep the stage short.
        chunks = [targets[i::READ_WORKERS] for i in range(min(READ_WORKERS, len(targets)))]
        with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="evidence") as pool:
            for done in pool.map(investigate, chunks):
                gathered.update(done)
    result = [
        _with_records(finding, gathered[id(finding)], redact)
        if id(finding) in gathered
        else _carried(finding, known)
        for finding in findings
    ]
    return EvidenceOutcome(
        findings=result,
        investigated=len(targets),
        requests=budget.requests,
        gaps=list(budget.gaps.values()),
        seconds=time.monotonic() - started,
    )


def _known_findings(previous: Ledger) -> dict[str, Finding]:
    known: dict[str, Finding] = {}
    for incident in previous.open_incidents():
        for finding in incident.findings:
            known[finding.fingerprint] = finding
    return known


def _needs_evidence(finding: Finding, known: dict[str, Finding]) -> bool:
    if finding.severity is Severity.INFO:
        return False
    before = known.get(finding.fingerprint)
    return before is None or finding.severity.rank > before.severity.rank


def _carried(finding: Finding, known: dict[str, Finding]) -> Finding:
    before = known.get(finding.fingerprint)
    if before is None or EVIDENCE_KEY not in before.evidence or EVIDENCE_KEY in finding.evidence:
        return finding
    evidence = {**finding.evidence, EVIDENCE_KEY: before.evidence[EVIDENCE_KEY]}
    return msgspec.structs.replace(finding, evidence=evidence)


def _with_records(finding: Finding, records: list[Record], redact: Redact) -> Finding:
    # Without cluster access (a dump, a test) the lookups are simply not there: not news.
    records = [r for r in records if not (isinstance(r, Unreadable) and r.reason == UNAVAILABLE)]
    if not records:
        return finding
    data = capped([_redacted(msgspec.to_builtins(r), redact) for r in records])
    return msgspec.structs.replace(finding, evidence={**finding.evidence, EVIDENCE_KEY: data})


def _redacted(value: Any, redact: Redact) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


def capped(records: list[dict[str, Any]], limit: int = MAX_EVIDENCE_BYTES) -> list[dict[str, Any]]:
    """Records within ``limit`` bytes of JSON: long texts shortened first, then records dropped."""
    kept = list(records)
    if _size(kept) <= limit:
        return kept
    for record in kept:
        for key in ("text", "message"):
            text = record.get(key)
            if isinstance(text, str) and len(text) > 400:
                record[key] = "..." + text[-400:]
                record["truncated"] = True
    while len(kept) > 1 and _size(kept) > limit:
        kept.pop()
    if _size(kept) > limit:
        kept = [{"type": "unreadable", "what": "evidence", "reason": "too_large"}]
    return kept


def _size(records: list[dict[str, Any]]) -> int:
    return len(msgspec.json.encode(records))


def _playbook(finding: Finding, cluster: _Cluster, reads: _Budgeted) -> Iterator[Record]:
    reason = finding.reason
    pod = cluster.representative_pod(finding)
    if reason in NODE_REASONS and finding.subject.kind == "Node":
        yield from _node(finding.subject.name, cluster)
    if reason in JOB_REASONS:
        yield from _job(finding.subject, cluster, reads)
    if pod is not None and reason in CRASH_REASONS:
        yield from _terminations(pod)
        yield from _logs(pod, cluster, reads)
        yield from _config_refs(pod, finding, reads)
    if pod is not None and reason in SCHEDULING_REASONS:
        yield from _scheduling(pod, finding, cluster)
    if pod is not None and reason in PULL_REASONS:
        yield from _image_pulls(pod)
    if reason in VOLUME_REASONS:
        yield from _volumes(finding, pod, cluster)
    if reason in ROLLOUT_REASONS:
        yield from _rollout(finding, pod, cluster, reads)


# --- playbooks -------------------------------------------------------------------------------


def _terminations(pod: Pod) -> Iterator[Record]:
    for status in (*pod.status.init_container_statuses, *pod.status.container_statuses):
        last = status.state.terminated or status.last_state.terminated
        if last is None or (last.exit_code == 0 and last.reason not in ("OOMKilled",)):
            continue
        yield Termination(
            container=status.name,
            exit_code=last.exit_code,
            meaning=readings.exit_meaning(last.exit_code, last.reason),
            reason=last.reason,
            signal=last.signal or readings.signal_of(last.exit_code),
            oom=last.reason == "OOMKilled",
            restarts=status.restart_count,
            finished_at=last.finished_at.isoformat() if last.finished_at else None,
        )


def _logs(pod: Pod, cluster: _Cluster, reads: _Budgeted) -> Iterator[Record]:
    namespace, name = pod.metadata.namespace, pod.metadata.name
    for status in pod.status.container_statuses:
        if status.restart_count == 0 and status.state.terminated is None:
            continue
        tail = cluster.logs.get((namespace, name, status.name, True)) or cluster.logs.get(
            (namespace, name, status.name, False)
        )
        if tail is not None:
            yield _log_record(status.name, tail.previous, tail.text, tail.truncated, "snapshot")
            continue
        value = reads.call(
            f"previous log of {namespace}/{name}/{status.name}",
            "pods/log",
            "previous_log",
            namespace,
            name,
            status.name,
        )
        if isinstance(value, Unreadable):
            yield value
        elif isinstance(value, str) and value:
            yield _log_record(status.name, True, value, False, "lookup")


def _log_record(container: str, previous: bool, text: str, truncated: bool, source: str) -> LogTail:
    cut = len(text) > LOG_CHARS
    return LogTail(
        container=container,
        previous=previous,
        text=text[-LOG_CHARS:],
        truncated=truncated or cut,
        source=source,
    )


def _references(pod: Pod) -> dict[tuple[str, str], ConfigRef]:
    """Every ConfigMap and Secret the pod names, with the keys it takes from each."""
    namespace = pod.metadata.namespace
    refs: dict[tuple[str, str], ConfigRef] = {}

    def add(kind: str, name: str, how: str, key: str = "", optional: bool = False) -> None:
        if not name or (kind == "ConfigMap" and name in SYSTEM_CONFIGMAPS):
            return
        ref = refs.setdefault(
            (kind, name), ConfigRef(kind=kind, namespace=namespace, name=name, optional=optional)
        )
        if how not in ref.used_by:
            ref.used_by.append(how)
        if key and key not in ref.keys_used:
            ref.keys_used.append(key)

    for container in (*pod.spec.init_containers, *pod.spec.containers):
        for env in container.env:
            source = env.value_from or {}
            for field_name, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = source.get(field_name)
                if isinstance(ref, dict):
                    add(
                        kind,
                        str(ref.get("name", "")),
                        "env",
                        str(ref.get("key", "")),
                        bool(ref.get("optional", False)),
                    )
        for env_from in container.env_from:
            if env_from.config_map_ref is not None:
                cm = env_from.config_map_ref
                add("ConfigMap", cm.name, "envFrom", optional=cm.optional)
            if env_from.secret_ref is not None:
                add(
                    "Secret",
                    env_from.secret_ref.name,
                    "envFrom",
                    optional=env_from.secret_ref.optional,
                )
    for volume in pod.spec.volumes:
        if volume.config_map is not None:
            add("ConfigMap", volume.config_map.name, "volume", optional=volume.config_map.optional)
        if volume.secret is not None:
            add("Secret", volume.secret.secret_name, "volume", optional=volume.secret.optional)
        if volume.projected is not None:
            for projection in volume.projected.sources:
                if projection.config_map is not None:
                    add("ConfigMap", projection.config_map.name, "projected")
                if projection.secret is not None:
                    add("Secret", projection.secret.name, "projected")
    return refs


def _waiting_texts(pod: Pod, finding: Finding) -> list[str]:
    texts = [finding.message]
    for status in (*pod.status.init_container_statuses, *pod.status.container_statuses):
        if status.state.waiting is not None and status.state.waiting.message:
            texts.append(status.state.waiting.message)
    return texts


def _config_refs(pod: Pod, finding: Finding, reads: _Budgeted) -> Iterator[Record]:
    refs = _references(pod)
    # What the kubelet says is missing: the only way to learn about a Secret (never read).
    named_missing: dict[tuple[str, str], str] = {}
    for text in _waiting_texts(pod, finding):
        found = config_cause(text, pod.metadata.namespace)
        if found is not None:
            cause, said = found
            named_missing[(cause.kind, cause.name)] = said
    for (kind, name), ref in sorted(refs.items()):
        detail = named_missing.get((kind, name))
        if kind == "Secret":
            ref.note = (
                f"not read (Secrets never are); kubelet says: {detail}"
                if detail
                else ("not read (Secrets never are)")
            )
            if detail:
                ref.exists = "does not exist" not in detail
                ref.missing_keys = _missing_key(detail)
            yield ref
            continue
        value = reads.call(
            f"ConfigMap {ref.namespace}/{name}", "configmaps", "configmap_keys", ref.namespace, name
        )
        if isinstance(value, Unreadable):
            ref.note = f"could not be read: {value.reason}" if value.reason != UNAVAILABLE else ""
            if detail:
                ref.note += f"; kubelet says: {detail}"
                ref.exists = "does not exist" not in detail
                ref.missing_keys = _missing_key(detail)
            yield ref
            continue
        if value is None:
            ref.exists = False
            ref.note = "does not exist"
        else:
            keys = sorted(str(k) for k in value)
            ref.exists = True
            ref.keys = keys[:MAX_CONFIG_KEYS]
            ref.missing_keys = sorted(set(ref.keys_used) - set(keys))
        yield ref
    for (kind, name), detail in sorted(named_missing.items()):
        if (kind, name) not in refs and kind in ("ConfigMap", "Secret"):
            yield ConfigRef(
                kind=kind,
                namespace=pod.metadata.namespace,
                name=name,
                exists="does not exist" not in detail,
                missing_keys=_missing_key(detail),
                note=f"kubelet says: {detail}",
            )


def _missing_key(detail: str) -> list[str]:
    marker = " has no key "
    return [detail.split(marker, 1)[1]] if marker in detail else []


def _scheduling(pod: Pod, finding: Finding, cluster: _Cluster) -> Iterator[Record]:
    scheduled = next((c for c in pod.status.conditions if c.type == "PodScheduled"), None)
    message = (scheduled.message if scheduled is not None else "") or str(
        finding.evidence.get("condition_message") or finding.message
    )
    cpu, memory = _requests(pod.spec)
    nodes = cluster.node_allocatable()
    fitting = sum(1 for _, c, m in nodes if c >= cpu and m >= memory)
    yield Scheduling(
        message=message[:500],
        causes=readings.scheduling_causes(message),
        requests={"cpu": f"{cpu:.3f}", "memory": _bytes(memory)},
        nodes_fitting=f"{fitting} of {len(nodes)} schedulable nodes by allocatable",
        largest_allocatable=[
            {"node": name, "cpu": f"{c:.3f}", "memory": _bytes(m)} for name, c, m in nodes[:3]
        ],
        node_selector=dict(pod.spec.node_selector),
    )


def _bytes(value: float) -> str:
    return f"{value / 2**20:.0f}Mi"


def _image_pulls(pod: Pod) -> Iterator[Record]:
    secrets = [s.name for s in pod.spec.image_pull_secrets]
    images = {c.name: c.image for c in (*pod.spec.init_containers, *pod.spec.containers)}
    for status in (*pod.status.init_container_statuses, *pod.status.container_statuses):
        waiting = status.state.waiting
        if waiting is None or ("Image" not in waiting.reason and "Registry" not in waiting.reason):
            continue
        image = images.get(status.name) or status.image
        registry, repository, tag, digest = readings.parse_image(image)
        yield ImagePull(
            image=image,
            registry=registry,
            repository=repository,
            tag=tag,
            digest=digest,
            failure=(
                "invalid_name"
                if waiting.reason == "InvalidImageName"
                else readings.pull_failure(waiting.message)
            ),
            message=waiting.message[:300],
            pull_secrets=secrets,
        )


def _zone(labels: dict[str, str]) -> str:
    return next((labels[k] for k in ZONE_LABELS if k in labels), "")


def _pv_zone(affinity: dict[str, Any] | None) -> str:
    required = (affinity or {}).get("required", {})
    for term in required.get("nodeSelectorTerms", []) if isinstance(required, dict) else []:
        for expression in term.get("matchExpressions", []):
            if "zone" in str(expression.get("key", "")) and expression.get("values"):
                return ",".join(str(v) for v in expression["values"])
    return ""


def _volumes(finding: Finding, pod: Pod | None, cluster: _Cluster) -> Iterator[Record]:
    """Claims, volumes and zones. A missing StorageClass is named by the provisioner's events
    (``storageclass ... not found``), which the cause graph reads: no StorageClass read."""
    namespace = finding.subject.namespace
    if finding.subject.kind == "PersistentVolumeClaim":
        claims = [finding.subject.name]
    elif pod is not None:
        claims = [
            v.persistent_volume_claim.claim_name
            for v in pod.spec.volumes
            if v.persistent_volume_claim is not None
        ]
    else:
        claims = []
    node: Node | None = cluster.nodes.get(pod.spec.node_name) if pod is not None else None
    for name in claims:
        claim = cluster.pvcs.get((namespace, name))
        if claim is None:
            yield Unreadable(what=f"claim {namespace}/{name}", reason="not_found")
            continue
        record = Volume(
            claim=name,
            phase=claim.status.phase,
            storage_class=claim.spec.storage_class_name or "",
            volume=claim.spec.volume_name,
        )
        pv = cluster.pvs.get(claim.spec.volume_name) if claim.spec.volume_name else None
        if pv is not None:
            record.volume_zone = _pv_zone(pv.spec.node_affinity) or _zone(pv.metadata.labels)
        if node is not None:
            record.node = node.metadata.name
            record.node_zone = _zone(node.metadata.labels)
        record.zone_conflict = bool(
            record.volume_zone and record.node_zone and record.node_zone not in record.volume_zone
        )
        yield record


def _node(name: str, cluster: _Cluster) -> Iterator[Record]:
    node = cluster.nodes.get(name)
    if node is None:
        yield Unreadable(what=f"node {name}", reason="not_found")
        return
    ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
    heartbeat = ready.last_heartbeat_time if ready is not None else None
    pods = cluster.pods_on(name)
    yield NodeState(
        node=name,
        conditions=[
            {"type": c.type, "status": c.status, "reason": c.reason}
            for c in node.status.conditions
            if (c.type == "Ready") != (c.status == "True")
        ],
        heartbeat_age_seconds=int((cluster.now - heartbeat).total_seconds()) if heartbeat else None,
        unreachable=any(t.key == "node.kubernetes.io/unreachable" for t in node.spec.taints),
        pods_scheduled=len(pods),
        namespaces=dict(Counter(p.metadata.namespace for p in pods).most_common(10)),
    )


def _job(subject: ObjectRef, cluster: _Cluster, reads: _Budgeted) -> Iterator[Record]:
    failed = cluster.failed_by_root.get(subject, [])
    rows: list[dict[str, str | int]] = []
    for pod in failed[:5]:
        for status in pod.status.container_statuses:
            last = status.state.terminated
            if last is not None:
                rows.append(
                    {
                        "pod": pod.metadata.name,
                        "container": status.name,
                        "exit_code": last.exit_code,
                        "meaning": readings.exit_meaning(last.exit_code, last.reason),
                    }
                )
    yield JobRun(job=subject.name, failed_pods=rows)
    if failed:
        yield from _logs(failed[-1], cluster, reads)


def _rollout(
    finding: Finding, pod: Pod | None, cluster: _Cluster, reads: _Budgeted
) -> Iterator[Record]:
    root = finding.subject
    if root.kind != "Deployment":
        return
    sets = sorted(cluster.replicasets.get((root.namespace, root.name), []), key=_revision)
    if len(sets) < 2:
        return
    new, old = sets[-1], sets[-2]
    created = new.metadata.creation_timestamp
    if created is None or cluster.now - created > ROLLOUT_WINDOW:
        return
    pods_of = cluster.pods_of_replicasets(root.namespace, {new.metadata.name, old.metadata.name})
    record = Rollout(
        owner=str(root),
        new_revision=str(_revision(new)),
        new_replicaset=new.metadata.name,
        created_at=created.isoformat(),
        old_revision=str(_revision(old)),
        old_replicaset=old.metadata.name,
        failing_pods_in_new=sum(1 for p in pods_of.get(new.metadata.name, []) if _failing(p)),
        failing_pods_in_old=sum(1 for p in pods_of.get(old.metadata.name, []) if _failing(p)),
    )
    before = _template(old, pods_of, reads)
    after = _template(new, pods_of, reads)
    if isinstance(before, Unreadable):
        yield before
    if isinstance(after, Unreadable):
        yield after
    if isinstance(before, PodSpec) and isinstance(after, PodSpec):
        record.template_diff = readings.template_diff(before, after)
    yield record


def _revision(rs: ReplicaSet) -> int:
    try:
        return int(rs.metadata.annotations.get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _failing(pod: Pod) -> bool:
    ready = next((c for c in pod.status.conditions if c.type == "Ready"), None)
    return pod.status.phase == "Failed" or ready is None or ready.status != "True"


def _template(
    rs: ReplicaSet, pods_of: dict[str, list[Pod]], reads: _Budgeted
) -> PodSpec | Unreadable | None:
    """A revision's pod template: from one of its pods when the snapshot has one, else read."""
    pods = pods_of.get(rs.metadata.name)
    if pods:
        return pods[0].spec
    namespace, name = rs.metadata.namespace, rs.metadata.name
    value = reads.call(
        f"template of ReplicaSet {namespace}/{name}",
        "replicasets",
        "replicaset_template",
        namespace,
        name,
    )
    if isinstance(value, Unreadable | PodSpec):
        return value
    return None
