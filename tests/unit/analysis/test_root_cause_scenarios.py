"""Root causes named on every shipped scenario that declares one (target: >= 90 %), and no
false criticals on the healthy first step of any scenario."""

from __future__ import annotations

import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.sim import load_scenario
from k8s_monitor.sim.scenario import shipped_scenarios
from tests.unit.analysis.scenario_causes import START, expected_cases, pipeline, score, snapshot_at

TARGET = 0.9


def test_root_causes_are_named_in_at_least_90_percent_of_the_scenarios() -> None:
    ratio, verdicts = score()
    assert verdicts, "no shipped scenario declares an expected root cause"
    missed = [
        f"{v.case.scenario}[{v.case.step_name}]: expected {v.case.expected.kind}/"
        f"{v.case.expected.namespace}/{v.case.expected.name}, named {v.roots}"
        for v in verdicts
        if not v.named
    ]
    assert ratio >= TARGET, f"{ratio:.0%} named; missed: {missed}"


def test_the_node_outage_scenario_names_the_node() -> None:
    [case] = [c for c in expected_cases() if c.scenario == "node-outage"]
    scenario = load_scenario("node-outage", start=START)
    findings, groups = pipeline(snapshot_at(scenario, case.step))
    [group] = [g for g in groups if g.symptoms]
    assert (group.root.kind, group.root.name) == ("Node", case.expected.name)
    assert len(group.findings) == len(findings)  # every finding is the node's


@pytest.mark.parametrize("name", shipped_scenarios())
def test_no_critical_finding_on_a_healthy_first_step(name: str) -> None:
    findings, _ = pipeline(snapshot_at(load_scenario(name, start=START), 0))
    assert [f for f in findings if f.severity is Severity.CRITICAL] == []
