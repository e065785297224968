"""What every rule reads: the snapshot, ``now``, the catalog, and indexes built once per run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.owners import OwnerIndex
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot, Condition, Event, LogTail, Pod

# How long an event still counts as news about an object that is unhealthy now.
EVENT_WINDOW = timedelta(hours=1)
LOG_EXCERPT_CHARS = 1_500


@dataclass(frozen=True)
class RuleContext:
    snapshot: ClusterSnapshot
    now: datetime
    catalog: ServiceCatalog
    owners: OwnerIndex
    events: dict[tuple[str, str, str], list[Event]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str], LogTail] = field(default_factory=dict)
    pods_by_node: dict[str, int] = field(default_factory=dict)
    pods_by_root: dict[ObjectRef, list[Pod]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, snapshot: ClusterSnapshot, now: datetime, catalog: ServiceCatalog
    ) -> RuleContext:
        events: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
        for event in snapshot.events:
            involved = event.involved_object
            events[(involved.kind, involved.namespace, involved.name)].append(event)
        for bucket in events.values():
            bucket.sort(key=lambda e: e.seen_at or datetime.min.replace(tzinfo=UTC))
        logs: dict[tuple[str, str, str], LogTail] = {}
        for tail in snapshot.log_tails:
            key = (tail.namespace, tail.pod, tail.container)
            # The previous instance's log explains a crash better than the fresh one's.
            if key not in logs or tail.previous:
                logs[key] = tail
        pods_by_node: dict[str, int] = defaultdict(int)
        for pod in snapshot.pods:
            if pod.spec.node_name and pod.status.phase not in ("Succeeded", "Failed"):
                pods_by_node[pod.spec.node_name] += 1
        owners = OwnerIndex(snapshot)
        pods_by_root: dict[ObjectRef, list[Pod]] = defaultdict(list)
        for pod in snapshot.pods:
            pods_by_root[owners.root_of("Pod", pod.metadata)].append(pod)
        return cls(
            snapshot=snapshot,
            now=now,
            catalog=catalog,
            owners=owners,
            events=dict(events),
            logs=logs,
            pods_by_node=dict(pods_by_node),
            pods_by_root=dict(pods_by_root),
        )

    @cached_property
    def live_controllers(self) -> dict[str, frozenset[tuple[str, str]]]:
        """(namespace, name) of the controllers that still own pods, by kind.

        A kind the snapshot holds nothing of is absent (unknown, not "none alive"); a ReplicaSet
        scaled to zero is a retired revision and does not count as alive.
        """
        snapshot = self.snapshot
        found: dict[str, frozenset[tuple[str, str]]] = {}
        if snapshot.replicasets:
            found["ReplicaSet"] = frozenset(
                (r.metadata.namespace, r.metadata.name)
                for r in snapshot.replicasets
                if r.spec.replicas != 0
            )
        for kind, metas in (
            ("StatefulSet", [s.metadata for s in snapshot.statefulsets]),
            ("DaemonSet", [d.metadata for d in snapshot.daemonsets]),
            ("Job", [j.metadata for j in snapshot.jobs]),
        ):
            if metas:
                found[kind] = frozenset((m.namespace, m.name) for m in metas)
        return found

    def startup_grace(self, namespace: str, labels: dict[str, str]) -> timedelta:
        return self.catalog.match(namespace, labels).startup_grace

    def older_than(self, moment: datetime | None, window: timedelta) -> bool:
        """True when ``moment`` is at least ``window`` ago; unknown times count as old."""
        return moment is None or self.now - moment >= window

    def within(self, moment: datetime | None, window: timedelta) -> bool:
        """True when ``moment`` is known and less than ``window`` ago."""
        return moment is not None and self.now - moment < window

    def recent_events(
        self, kind: str, namespace: str, name: str, reasons: frozenset[str] | None = None
    ) -> list[Event]:
        found = self.events.get((kind, namespace, name), [])
        return [
            e
            for e in found
            if (reasons is None or e.reason in reasons)
            and (e.seen_at is None or self.within(e.seen_at, EVENT_WINDOW))
        ]

    def pods_of(self, kind: str, namespace: str, name: str) -> list[Pod]:
        return self.pods_by_root.get(ObjectRef(kind=kind, namespace=namespace, name=name), [])

    def unready_pods_past_grace(self, pods: list[Pod]) -> list[str]:
        """Names of live pods that have been unready for longer than their startup grace."""
        names = []
        for pod in pods:
            if pod.status.phase in ("Succeeded", "Failed") or pod.metadata.deletion_timestamp:
                continue
            ready = condition(pod.status.conditions, "Ready")
            if ready is not None and ready.status == "True":
                continue
            since = (ready.last_transition_time if ready else None) or (
                pod.metadata.creation_timestamp
            )
            if self.older_than(
                since, self.startup_grace(pod.metadata.namespace, pod.metadata.labels)
            ):
                names.append(pod.metadata.name)
        return sorted(names)

    def log_excerpt(self, pod: Pod, container: str) -> str | None:
        tail = self.logs.get((pod.metadata.namespace, pod.metadata.name, container))
        if tail is None or not tail.text:
            return None
        return tail.text[-LOG_EXCERPT_CHARS:]


def condition(conditions: Sequence[Condition], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


def pod_ready(pod: Pod) -> bool:
    ready = condition(pod.status.conditions, "Ready")
    return ready is not None and ready.status == "True"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def event_evidence(events: list[Event], limit: int = 3) -> list[dict[str, Any]]:
    """The newest events, as compact JSON-able dicts."""
    return [
        {
            "reason": e.reason,
            "type": e.type,
            "message": e.message[:500],
            "count": e.series.count if e.series is not None else e.count,
            "last_seen": iso(e.seen_at),
        }
        for e in events[-limit:]
    ]


def ref(kind: str, namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind=kind, namespace=namespace, name=name)


def make_finding(
    subject: ObjectRef,
    reason: str,
    severity: Severity,
    message: str,
    evidence: dict[str, Any],
    objects: tuple[ObjectRef, ...] | None = None,
    caused_by: CauseRef | None = None,
) -> Finding:
    return Finding(
        subject=subject,
        reason=reason,
        severity=severity,
        message=message,
        objects=objects if objects is not None else (subject,),
        evidence={k: v for k, v in evidence.items() if v is not None},
        caused_by=caused_by,
    )
