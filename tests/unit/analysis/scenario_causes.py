"""Score the root causes the deterministic pipeline names on shipped simulator scenarios.

A scenario may declare ``expect: {root_cause: {kind, namespace, name, reason}}`` for its last
step. That step's objects (every kind the simulator serves) go through the cycle's
deterministic stages (analyze -> evidence -> causes), and the expectation is met when a
finding at warning or above blames the object (``caused_by``) or an incident's root cause is
the object. Kind, namespace and name must match; the reason is reported, not required (rules
and the cause graph may word it differently).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from k8s_monitor.analysis.causes import CauseGroup, group_by_root_cause, link_causes
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot, snapshot_from_objects
from k8s_monitor.investigate import gather_evidence
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import load_scenario
from k8s_monitor.sim.api import RESOURCES
from k8s_monitor.sim.dsl import RootCauseIn
from k8s_monitor.sim.scenario import Scenario, shipped_scenarios

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    scenario: str
    step: int
    step_name: str
    expected: RootCauseIn


@dataclass(frozen=True)
class Verdict:
    case: Case
    named: bool
    roots: list[str]  # what the pipeline named, for the failure message


def expected_cases() -> list[Case]:
    cases = []
    for name in shipped_scenarios():
        scenario = load_scenario(name, start=START)
        if scenario.spec.expect is not None:
            last = len(scenario.step_names) - 1
            step = scenario.step_names[last]
            cases.append(Case(name, last, step, scenario.spec.expect.root_cause))
    return cases


def snapshot_at(scenario: Scenario, step: int) -> ClusterSnapshot:
    now = START + timedelta(seconds=step * scenario.step_seconds)
    view = scenario.view(step, now)
    objects: list[dict[str, Any]] = []
    for resource in RESOURCES:
        collection = None if resource.is_metrics else view.collection(resource.collection_key)
        if collection is not None:
            items = collection.items(0, len(collection))
            objects.extend({**item, "kind": resource.kind} for item in items)
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


def _matches(expected: RootCauseIn, kind: str, namespace: str, name: str) -> bool:
    return (expected.kind, expected.namespace, expected.name) == (kind, namespace, name)


def judge(case: Case) -> Verdict:
    scenario = load_scenario(case.scenario, start=START)
    findings, groups = pipeline(snapshot_at(scenario, case.step))
    expected = case.expected
    by_cause = any(
        f.caused_by is not None
        and f.severity is not Severity.INFO
        and _matches(expected, f.caused_by.kind, f.caused_by.namespace, f.caused_by.name)
        for f in findings
    )
    by_root = any(
        g.severity is not Severity.INFO
        and _matches(expected, g.root.kind, g.root.namespace, g.root.name)
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
