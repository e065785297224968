"""Root causes named through the real path: simulator REST API -> collector -> rules.

Every shipped scenario that declares ``expect.root_cause`` (each modelled on a published
incident) is served by the simulator, collected with the production collector (so only what a
live cluster would give: Warning events, the autoscaler's refusals, Services, EndpointSlices,
StorageClasses) and analyzed. The cause must be named in at least 90% of them, and the healthy
baseline of every one must hold no critical finding.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.config import Settings
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import SimServer, load_scenario
from tests.unit.sim.rootcause import blames, root_cause_scenarios

SCENARIOS = root_cause_scenarios()
TARGET = 0.9


def _collect_and_analyze(sim: SimServer, tmp_path: Path, *, complete: bool = True) -> list[Finding]:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    settings = Settings(kubeconfig=kubeconfig, _env_file=None)
    options = dataclasses.replace(CollectOptions.from_settings(settings), log_tail_max_containers=2)
    collector = Collector(load_api_client(settings), options, Redactor(), cluster_name="sim")
    try:
        snapshot = collector.collect(now=datetime.now(UTC))
    finally:
        collector.close()
    assert (snapshot.gaps == []) is complete
    return analyze(snapshot, now=snapshot.collected_at)


def test_at_least_twelve_scenarios_cite_a_published_incident() -> None:
    assert len(SCENARIOS) >= 12
    for name in SCENARIOS:
        sources = load_scenario(name).spec.sources
        assert sources and all(s.startswith("https://") for s in sources), name


@pytest.mark.parametrize("name", SCENARIOS)
def test_baseline_holds_no_critical_finding(name: str, tmp_path: Path) -> None:
    with SimServer(load_scenario(name)) as sim:
        sim.goto(0)
        findings = _collect_and_analyze(sim, tmp_path)
    assert [str(f.subject) for f in findings if f.severity is Severity.CRITICAL] == []


def test_root_causes_are_named(tmp_path: Path) -> None:
    missed: list[str] = []
    for name in SCENARIOS:
        scenario = load_scenario(name)
        expect = scenario.spec.expect
        assert expect is not None
        with SimServer(scenario) as sim:
            sim.goto(len(scenario.step_names) - 1)
            findings = _collect_and_analyze(sim, tmp_path / name)
        if not any(blames(f, expect.root_cause) for f in findings):
            missed.append(f"{name}: {[(f.reason, str(f.subject), f.caused_by) for f in findings]}")
    named = len(SCENARIOS) - len(missed)
    print(f"root causes named: {named}/{len(SCENARIOS)}")
    assert named / len(SCENARIOS) >= TARGET, missed


def test_forbidden_services_and_slices_leave_a_gap_and_the_rest_of_the_findings(
    tmp_path: Path,
) -> None:
    scenario = load_scenario("vpc-cni-ip-exhaustion")
    with SimServer(scenario) as sim:
        sim.goto(1)
        sim.faults.set(resource="services", status=403)
        sim.faults.set(resource="endpointslices.discovery.k8s.io", status=403)
        findings = _collect_and_analyze(sim, tmp_path, complete=False)
    gaps = {f.subject.name for f in findings if f.reason == "CollectionGap"}
    assert gaps == {"services", "endpointslices.discovery.k8s.io"}
    assert not [f for f in findings if f.subject.kind == "Service"]  # unseen, not "healthy"
    sandbox = [f for f in findings if f.reason == "FailedCreatePodSandBox"]
    assert sandbox and sandbox[0].caused_by is not None


def test_forbidden_slices_alone_judge_services_by_their_pods(tmp_path: Path) -> None:
    with SimServer(load_scenario("vpc-cni-ip-exhaustion")) as sim:
        sim.goto(1)
        sim.faults.set(resource="endpointslices", status=403)
        findings = _collect_and_analyze(sim, tmp_path, complete=False)
    (frontend,) = [f for f in findings if f.subject.kind == "Service"]
    assert frontend.reason == "ServiceNoReadyEndpoints" and frontend.subject.name == "frontend"
    assert frontend.evidence["source"] == "pods"
