"""Score the root causes the deterministic pipeline names on shipped simulator scenarios.

A scenario step may declare ``expect: {root_cause: {kind, name, namespace?, reason?}}``. The
step's objects go through the cycle's deterministic stages (analyze -> evidence -> causes),
and the expectation is met when a finding's cause chain or an incident's root names it.
Used by the test (>= 90 %) and by ``python -m tests.bench``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from k8s_monitor.analysis.causes import CauseGroup, group_by_root_cause, link_causes
from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot, snapshot_from_objects
from k8s_monitor.investigate import gather_evidence
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import load_scenario
from k8s_monitor.sim.dsl import ExpectedCauseIn
from k8s_monitor.sim.scenario import Scenario, shipped_scenarios

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KINDS = {
    "namespaces": "Namespace",
    "nodes": "Node",
    "pods": "Pod",
    "events": "Event",
    "deployments": "Deployment",
    "replicasets": "ReplicaSet",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "persistentvolumes": "PersistentVolume",
    "resourcequotas": "ResourceQuota",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "poddisruptionbudgets": "PodDisruptionBudget",
    "services": "Service",
    "endpointslices": "EndpointSlice",
}


@dataclass(frozen=True)
class Case:
    scenario: str
    step: int
    step_name: str
    expected: ExpectedCauseIn


@dataclass(frozen=True)
class Verdict:
    case: Case
    named: bool
    roots: list[str]  # what the pipeline named, for the failure message


def expected_cases() -> list[Case]:
    cases = []
    for name in shipped_scenarios():
        scenario = load_scenario(name, start=START)
        for index, step in enumerate(scenario.spec.steps):
            if step.expect is not None and step.expect.root_cause is not None:
                cases.append(Case(name, index, step.name, step.expect.root_cause))
    return cases


def snapshot_at(scenario: Scenario, step: int) -> ClusterSnapshot:
    now = START + timedelta(seconds=step * scenario.step_seconds)
    view = scenario.view(step, now)
    objects: list[dict[str, Any]] = []
    for resource, kind in KINDS.items():
        collection = view.collection(resource)
        if collection is not None:
            objects.extend({**o, "kind": kind} for o in collection.items(0, len(collection)))
    return snapshot_from_objects(objects, cluster="sim", collected_at=view.now)


def pipeline(snapshot: ClusterSnapshot) -> tuple[list[Finding], list[CauseGroup]]:
    """What the cycle runs before remembering, with no reads beyond the snapshot."""
    now = snapshot.collected_at
    findings = analyze(snapshot, now=now, catalog=ServiceCatalog())
    gathered = gather_evidence(
        findings, snapshot, previous=Ledger(), reads=None, now=now, redact=Redactor().redact
    )
    linked = link_causes(gathered.findings, snapshot, now=now)
    return linked, group_by_root_cause(linked)


def _matches(expected: ExpectedCauseIn, kind: str, namespace: str, name: str, reason: str) -> bool:
    return (expected.kind, expected.namespace, expected.name) == (kind, namespace, name) and (
        expected.reason is None or expected.reason == reason
    )


def judge(case: Case) -> Verdict:
    scenario = load_scenario(case.scenario, start=START)
    findings, groups = pipeline(snapshot_at(scenario, case.step))
    expected = case.expected
    by_cause = any(
        f.caused_by is not None
        and _matches(
            expected, f.caused_by.kind, f.caused_by.namespace, f.caused_by.name, f.caused_by.reason
        )
        for f in findings
    )
    by_root = any(
        _matches(expected, g.root.kind, g.root.namespace, g.root.name, g.root.reason)
        for g in groups
    )
    roots = [
        f"{g.root.reason} {g.root.kind}/{g.root.namespace}/{g.root.name}"
        for g in groups
        if g.symptoms
    ]
    return Verdict(case, by_cause or by_root, roots)


def score() -> tuple[float, list[Verdict]]:
    verdicts = [judge(case) for case in expected_cases()]
    if not verdicts:
        return 0.0, []
    return sum(v.named for v in verdicts) / len(verdicts), verdicts
