"""Scoring root causes on the shipped scenarios that declare ``expect.root_cause``.

A scenario's step is rendered, decoded as the collector would (every kind the simulator
serves) and analyzed; the cause counts as named when a finding at warning or above blames it
(``caused_by``, with the same reason) or is about it, has that reason and blames nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.cluster.snapshot import snapshot_from_objects
from k8s_monitor.sim import Scenario, load_scenario, shipped_scenarios
from k8s_monitor.sim.api import RESOURCES
from k8s_monitor.sim.dsl import RootCauseIn


@dataclass(frozen=True)
class Outcome:
    scenario: str
    expected: RootCauseIn
    named: bool
    findings: list[Finding]


def root_cause_scenarios() -> list[str]:
    return [name for name in shipped_scenarios() if load_scenario(name).spec.expect is not None]


def findings_at(scenario: Scenario, step: int, start: datetime) -> list[Finding]:
    now = start + timedelta(seconds=step * scenario.step_seconds)
    view = scenario.view(step, now)
    objects: list[dict[str, Any]] = []
    for resource in RESOURCES:
        if resource.is_metrics:
            continue
        collection = view.collection(resource.collection_key)
        if collection is not None:
            items = collection.items(0, len(collection))
            objects.extend({**item, "kind": resource.kind} for item in items)
    snapshot = snapshot_from_objects(objects, cluster="sim", collected_at=view.now)
    return analyze(snapshot, now=view.now, catalog=ServiceCatalog())


def blames(finding: Finding, expected: RootCauseIn) -> bool:
    """The finding names ``expected`` (kind, namespace, name and reason) as its cause."""
    key = (expected.kind, expected.namespace, expected.name, expected.reason)
    if finding.severity is Severity.INFO:
        return False
    cause = finding.caused_by
    if cause is not None:
        return (cause.kind, cause.namespace, cause.name, cause.reason) == key
    subject = finding.subject
    return (subject.kind, subject.namespace, subject.name, finding.reason) == key


def score(name: str, start: datetime) -> Outcome:
    scenario = load_scenario(name, start=start)
    expect = scenario.spec.expect
    assert expect is not None, name
    last = len(scenario.step_names) - 1
    findings = findings_at(scenario, last, start)
    named = any(blames(f, expect.root_cause) for f in findings)
    return Outcome(name, expect.root_cause, named, findings)
