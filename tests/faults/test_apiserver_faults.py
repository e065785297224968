"""Apiserver faults through the simulator: the cycle goes on, gaps are data, blindness pages.

In-process cycles (the daemon's runner) against the simulator with the fake model and the
webhook receiver; each test checks what the daemon reports, notifies and keeps on disk.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.redaction import Redactor
from k8s_monitor.report import CycleReport, Outcome
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble
from tests.faults.harness import SCENARIO, Rig, rig, run_cycles
from tests.faults.planted import PlantingSource, planted_scenario

BLIND_AFTER = 2
CRASHLOOP_STEP = 1


def _kinds(r: Rig, kind: str) -> list[dict[str, Any]]:
    return [x.body for x in r.receiver.received if x.body["kind"] == kind]


def _blind_alerts(r: Rig) -> list[dict[str, Any]]:
    return [
        body
        for body in _kinds(r, "alert")
        if any(item["reason"] == "MonitorBlind" for item in body["items"])
    ]


def _resolved_fingerprints(r: Rig) -> set[str]:
    return {item["fingerprint"] for body in _kinds(r, "resolved") for item in body["items"]}


def _open_fingerprints(report: CycleReport) -> set[str]:
    return {
        line.fingerprint
        for status in ("new", "recurring", "flapping")
        for line in report.incident_changes.get(status, [])
    }


def test_apiserver_down_at_start_fails_cycles_then_pages_blind_then_recovers(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.sim.down()
        monitor = r.monitor(blind_after_failures=BLIND_AFTER, collect_timeout_seconds=1.0)
        try:
            failed = run_cycles(monitor, BLIND_AFTER - 1)
            assert _blind_alerts(r) == [], "not blind before BLIND_AFTER_FAILURES failures"
            failed += run_cycles(monitor, 2)
            assert [x.outcome for x in failed] == [Outcome.FAILED] * (BLIND_AFTER + 1)
            assert all("ClusterUnreachableError" in (x.error or "") for x in failed)
            assert r.session_bytes() is None, "nothing to say to the model while blind"
            blind = _blind_alerts(r)
            assert len(blind) == 1, "one page after BLIND_AFTER failures, not one per cycle"
            r.sim.up()
            recovered = monitor.runner.run()
        finally:
            monitor.close()
        assert recovered.outcome is Outcome.OK, recovered.error
        assert blind[0]["items"][0]["fingerprint"] in _resolved_fingerprints(r)


def test_apiserver_down_mid_run_keeps_incidents_open_and_session_untouched(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(blind_after_failures=BLIND_AFTER, collect_timeout_seconds=1.0)
        try:
            monitor.runner.run()
            r.sim.goto(CRASHLOOP_STEP)
            before_outage = monitor.runner.run()
            session = r.session_bytes()
            r.sim.down()
            run_cycles(monitor, BLIND_AFTER)
            assert r.session_bytes() == session
            assert len(_blind_alerts(r)) == 1
            r.sim.up()
            after = monitor.runner.run()
        finally:
            monitor.close()
        open_before = _open_fingerprints(before_outage)
        assert open_before, "the crash loop was seen before the outage"
        assert not open_before & _resolved_fingerprints(r), "an outage resolves nothing"
        assert open_before <= _open_fingerprints(after)


def test_slow_pods_list_beyond_the_timeout_is_a_gap_not_a_resolution(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(collect_timeout_seconds=0.5)
        try:
            r.sim.goto(CRASHLOOP_STEP)
            seen = monitor.runner.run()
            r.sim.faults.set(resource="pods", delay_seconds=1.5)
            slow = monitor.runner.run()
            r.sim.faults.clear()
        finally:
            monitor.close()
        assert slow.outcome is Outcome.DEGRADED
        assert any(g.startswith("pods") and "timeout" in g for g in slow.collection_gaps), (
            slow.collection_gaps
        )
        pod_incidents = {
            line.fingerprint
            for line in seen.incident_changes["new"]
            if line.subject.startswith("Pod/") or "checkout" in line.subject
        }
        assert pod_incidents
        resolved = {line.fingerprint for line in slow.incident_changes["resolved"]}
        assert not pod_incidents & resolved, "pods the daemon could not see are not healed"


def test_forbidden_resource_becomes_a_gap_naming_the_rbac_rule(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.faults.set(resource="deployments", status=403)
        monitor = r.monitor()
        try:
            report = monitor.runner.run()
        finally:
            monitor.close()
        assert report.outcome is Outcome.DEGRADED
        gaps = [g for g in report.collection_gaps if g.startswith("deployments")]
        assert gaps and "forbidden" in gaps[0], report.collection_gaps
        reasons = [f.reason for f in report.findings]
        assert "CollectionGap" in reasons, reasons
        assert report.analysis_source == "model", "the cycle went on to the model"


@pytest.mark.parametrize(("count", "complete"), [(1, True), (None, False)])
def test_expired_continue_token_restarts_the_list_once(
    tmp_path: Path, count: int | None, complete: bool
) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(collect_page_size=2)
        try:
            baseline = monitor.runner.run()
            r.sim.faults.set(resource="pods", status=410, count=count)
            report = monitor.runner.run()
            r.sim.faults.clear()
        finally:
            monitor.close()
        pod_gaps = [g for g in report.collection_gaps if g.startswith("pods")]
        if complete:
            assert pod_gaps == [], "one 410 costs a restart, not data"
            assert report.outcome is baseline.outcome is Outcome.OK
        else:
            assert pod_gaps and "expired" in pod_gaps[0], report.collection_gaps
            assert report.outcome is Outcome.DEGRADED


def test_burst_of_500s_is_survived_and_the_next_cycle_is_whole(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(blind_after_failures=BLIND_AFTER)
        try:
            r.sim.faults.set(status=500, count=25)
            burst = monitor.runner.run()
            r.sim.faults.clear()
            after = monitor.runner.run()
        finally:
            monitor.close()
        # Most lists fail: a partial snapshot (gaps) or, when nothing could be listed, a failure.
        assert burst.outcome in (Outcome.DEGRADED, Outcome.FAILED)
        assert len(burst.collection_gaps) >= 5 or "ClusterUnreachableError" in (burst.error or "")
        assert after.outcome is Outcome.OK, (after.error, after.collection_gaps)
        assert after.collection_gaps == []


def test_slow_apiserver_costs_a_bounded_cycle(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(collect_timeout_seconds=0.5)
        try:
            r.sim.faults.set(delay_seconds=2.0)
            report = monitor.runner.run()
            r.sim.faults.clear()
        finally:
            monitor.close()
        assert report.outcome in (Outcome.DEGRADED, Outcome.FAILED)
        # Lists run in parallel: a slow apiserver costs about one timeout per wave, not per list.
        assert report.duration_seconds < 6.0, report.duration_seconds


def test_every_list_failing_for_n_cycles_pages_blind(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(blind_after_failures=BLIND_AFTER)
        try:
            r.sim.faults.set(status=500)
            run_cycles(monitor, BLIND_AFTER)
            r.sim.faults.clear()
        finally:
            monitor.close()
        assert len(_blind_alerts(r)) == 1


def test_revoked_kubeconfig_token_fails_with_auth_error_and_pages_blind(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sim.require_token("a-token-the-daemon-does-not-have")
        monitor = r.monitor(blind_after_failures=BLIND_AFTER)
        try:
            reports = run_cycles(monitor, BLIND_AFTER)
        finally:
            monitor.close()
        assert all("ClusterAuthError" in (x.error or "") for x in reports)
        assert len(_blind_alerts(r)) == 1


def test_rotated_service_account_token_keeps_cycles_working(tmp_path: Path) -> None:
    token_file = tmp_path / "sa" / "token"
    token_file.parent.mkdir()

    def rotate(value: str) -> None:
        # The kubelet swaps the projected file atomically: a new inode each time.
        temp = token_file.with_suffix(".new")
        temp.write_text(value)
        os.replace(temp, token_file)

    with (
        SimServer(load_scenario(str(SCENARIO)), tls=True, token="token-one") as sim,
        rig(tmp_path) as r,
    ):
        rotate("token-one")
        settings = r.settings(kubeconfig=None)
        assert sim.ca_file is not None
        client = load_api_client(
            settings,
            environ={
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(sim.port),
            },
            token_file=token_file,
            ca_file=sim.ca_file,
        )
        collector = Collector(
            client,
            CollectOptions.from_settings(settings),
            Redactor.from_settings(settings),
            cluster_name=settings.cluster_name,
        )
        monitor = assemble(settings, source=collector)
        try:
            first = monitor.runner.run()
            rotate("token-two")
            sim.require_token("token-two")
            second = monitor.runner.run()
        finally:
            monitor.close()
            collector.close()
        assert first.outcome is Outcome.OK, first.error
        assert second.outcome is Outcome.OK, second.error


def test_warning_event_in_the_same_second_as_the_last_collection_is_not_lost(
    tmp_path: Path,
) -> None:
    scenario = planted_scenario(tmp_path, log_lines=["boom"], event_messages=[])
    source = PlantingSource(scenario, workload="shop/checkout", annotations={}, args=[])
    with rig(tmp_path, source) as r:
        monitor = r.monitor()
        try:
            first = monitor.runner.run()
            # The event happened just after that look, within the same wall-clock second.
            seen_at = first.started_at.replace(microsecond=0)
            source.event_time = lambda _now: seen_at
            source.event_messages = ["Back-off restarting: planted-late-event"]
            r.sim.faults.set(resource="pods", status=403)  # events are the only view of pods
            r.sim.goto(CRASHLOOP_STEP)
            second = monitor.runner.run()
        finally:
            monitor.close()
        assert first.started_at.microsecond > 0
        # The finding's message quotes the pod's newest event, which may be the scenario's own
        # BackOff stamped a second later; the planted one must be in the evidence either way.
        findings = msgspec.json.encode(second.findings).decode()
        assert "planted-late-event" in findings, findings


def test_an_apiserver_certificate_from_another_ca_fails_the_cycle_and_says_why(
    tmp_path: Path,
) -> None:
    """A kubeconfig whose CA does not sign the server's certificate (a rotated cluster CA, or
    a man in the middle): nothing is read, the cycle fails naming certificate verification,
    and the daemon goes on."""
    scenario = load_scenario(str(SCENARIO))
    with (
        SimServer(scenario, tls=True) as real,
        SimServer(load_scenario(str(SCENARIO)), tls=True) as other,
        rig(tmp_path) as r,
    ):
        assert real.ca_file is not None and other.ca_file is not None
        kubeconfig = real.write_kubeconfig(tmp_path / "kubeconfig")
        # The same server, vouched for by a CA that never signed its certificate.
        text = kubeconfig.read_text()
        real_ca, other_ca = (
            base64.b64encode(path.read_bytes()).decode() for path in (real.ca_file, other.ca_file)
        )
        assert real_ca in text and real_ca != other_ca
        kubeconfig.write_text(text.replace(real_ca, other_ca))
        monitor = r.monitor(kubeconfig=kubeconfig, collect_timeout_seconds=2.0)
        try:
            reports = run_cycles(monitor, 2)
        finally:
            monitor.close()
        assert real.requests == [], "no request may be sent over an unverified connection"
    for report in reports:
        assert report.outcome is Outcome.FAILED
        assert report.error and "ClusterUnreachableError" in report.error
        assert "CERTIFICATE_VERIFY_FAILED" in report.error or "certificate" in report.error.lower()
