"""The collector against the simulator: real HTTP, TLS, faults, paging, logs, token rotation."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.config import Settings
from k8s_monitor.errors import ClusterAuthError, ClusterUnreachableError
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import SimServer, generated_cluster, load_scenario
from tests.builders import T0

NOW = T0 + timedelta(hours=2)


def _collector(sim: SimServer, tmp_path: Path, **options: Any) -> Collector:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    settings = Settings(kubeconfig=kubeconfig, _env_file=None)
    merged = dataclasses.replace(CollectOptions.from_settings(settings), **options)
    return Collector(load_api_client(settings), merged, Redactor(), cluster_name="sim")


@pytest.fixture
def incident_sim() -> Iterator[SimServer]:
    with SimServer(load_scenario("incident-day")) as sim:
        sim.goto(1)  # checkout crash-loops; its log holds a planted AWS key pair
        yield sim


def test_incident_day_snapshot(incident_sim: SimServer, tmp_path: Path) -> None:
    collector = _collector(incident_sim, tmp_path)
    try:
        snap = collector.collect(now=datetime.now(UTC))
    finally:
        collector.close()
    assert snap.gaps == []
    assert len(snap.nodes) == 5 and len(snap.pods) >= 30
    namespaces = {n.metadata.name for n in snap.namespaces}
    assert {"shop", "payments", "platform", "monitoring", "kube-system"} <= namespaces
    assert snap.deployments and snap.statefulsets and snap.daemonsets and snap.hpas
    assert snap.node_metrics is not None
    checkout = [t for t in snap.log_tails if t.pod.startswith("checkout-")]
    assert checkout and all(t.previous for t in checkout)
    text = "\n".join(t.text for t in snap.log_tails)
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "wJalrXUtnFEMI" not in text
    assert "[REDACTED:aws_access_key]" in text
    assert all(e.type == "Warning" for e in snap.events) and snap.events


def test_forbidden_resource_gives_gap_and_snapshot(incident_sim: SimServer, tmp_path: Path) -> None:
    incident_sim.faults.set(resource="horizontalpodautoscalers", status=403)
    collector = _collector(incident_sim, tmp_path)
    try:
        snap = collector.collect(now=NOW)
    finally:
        collector.close()
    assert [(g.resource, g.reason) for g in snap.gaps] == [
        ("horizontalpodautoscalers", "forbidden")
    ]
    assert "autoscaling" in snap.gaps[0].fix and snap.hpas == [] and snap.pods


def test_slow_resource_times_out_into_a_gap(incident_sim: SimServer, tmp_path: Path) -> None:
    incident_sim.faults.set(resource="jobs", delay_seconds=3)
    collector = _collector(incident_sim, tmp_path, timeout_seconds=0.5)
    try:
        snap = collector.collect(now=NOW)
    finally:
        collector.close()
    assert [(g.resource, g.reason) for g in snap.gaps] == [("jobs", "timeout")]


def test_apiserver_down_then_up(incident_sim: SimServer, tmp_path: Path) -> None:
    # The default timeout, not a short one: a closed port refuses at once, so the down half does
    # not wait on it, while the up half lists every resource from an in-process simulator that
    # shares the GIL with the collector; on a loaded machine that can take seconds per list.
    collector = _collector(incident_sim, tmp_path)
    try:
        incident_sim.down()
        with pytest.raises(ClusterUnreachableError):
            collector.collect(now=NOW)
        incident_sim.up()
        snap = collector.collect(now=NOW)
        assert snap.pods and snap.gaps == [], snap.gaps
    finally:
        collector.close()


def test_generated_cluster_paging_and_410_restart(tmp_path: Path) -> None:
    with SimServer(generated_cluster(pods=1_200, nodes=12)) as sim:
        collector = _collector(sim, tmp_path, page_size=100)
        try:
            sim.faults.set(resource="pods", status=410, count=1)
            snap = collector.collect(now=NOW)
            names = [p.metadata.name for p in snap.pods]
            assert len(names) == len(set(names)) == 1_200
            assert not [g for g in snap.gaps if g.resource == "pods"]

            sim.faults.set(resource="pods", status=410, count=2)
            partial = collector.collect(now=NOW)
            assert 0 < len(partial.pods) < 1_200
            assert [(g.resource, g.reason) for g in partial.gaps if g.resource == "pods"] == [
                ("pods", "expired")
            ]
        finally:
            collector.close()
        pod_requests = [r for r in sim.requests if r.path == "/api/v1/pods"]
        assert all(r.query.get("limit") == "100" for r in pod_requests)


def _write_token(path: Path, token: str) -> None:
    # The kubelet swaps the projected token atomically: write aside, then rename over.
    aside = path.with_suffix(".new")
    aside.write_text(token)
    os.replace(aside, path)


def test_in_cluster_token_rotation_over_tls(tmp_path: Path) -> None:
    with SimServer(load_scenario("incident-day"), tls=True) as sim:
        assert sim.ca_file is not None
        token_file = tmp_path / "token"
        _write_token(token_file, "token-one")
        sim.require_token("token-one")
        environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(sim.port)}
        settings = Settings(kubeconfig=None, _env_file=None)
        client = load_api_client(
            settings, environ=environ, token_file=token_file, ca_file=sim.ca_file
        )
        assert client.configuration.host == f"https://127.0.0.1:{sim.port}"
        collector = Collector(client, CollectOptions(), Redactor())
        try:
            assert collector.collect(now=NOW).pods

            sim.require_token("token-two")  # the old token is no longer accepted...
            with pytest.raises(ClusterAuthError):
                collector.collect(now=NOW)
            _write_token(token_file, "token-two")  # ...until the kubelet rotates the file
            assert collector.collect(now=NOW).pods
        finally:
            collector.close()


def test_transient_500_is_retried(incident_sim: SimServer, tmp_path: Path) -> None:
    incident_sim.faults.set(resource="deployments", status=500, count=1)
    collector = _collector(incident_sim, tmp_path)
    try:
        snap = collector.collect(now=NOW)
    finally:
        collector.close()
    assert snap.gaps == [] and snap.deployments


def test_exec_plugin_kubeconfig_like_eks(tmp_path: Path) -> None:
    """A kubeconfig whose user runs a command for its token (what `aws eks get-token` does)."""
    plugin = tmp_path / "get-token.py"
    plugin.write_text(
        "import json\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'from-exec-plugin',"
        " 'expirationTimestamp': '2999-01-01T00:00:00Z'}}))\n"
    )
    with SimServer(load_scenario("incident-day")) as sim:
        sim.require_token("from-exec-plugin")
        config = yaml.safe_load(sim.write_kubeconfig(tmp_path / "kubeconfig").read_text())
        config["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": sys.executable,
                "args": [str(plugin)],
                "interactiveMode": "Never",
            }
        }
        kubeconfig = tmp_path / "kubeconfig-exec"
        kubeconfig.write_text(yaml.safe_dump(config))
        settings = Settings(kubeconfig=kubeconfig, _env_file=None)
        collector = Collector(load_api_client(settings), CollectOptions(), Redactor())
        try:
            assert collector.collect(now=NOW).pods
        finally:
            collector.close()


def test_a_later_collection_reuses_what_did_not_change_and_equals_a_fresh_read(
    tmp_path: Path,
) -> None:
    with SimServer(load_scenario("incident-day")) as sim:
        carrying = _collector(sim, tmp_path)
        sim.goto(1)
        before = carrying.collect(now=NOW)
        again = carrying.collect(now=NOW)
        sim.goto(2)  # node memory pressure: the scenario writes every object anew
        after = carrying.collect(now=NOW)
        fresh = _collector(sim, tmp_path).collect(now=NOW)

    assert [id(pod) for pod in again.pods] == [id(pod) for pod in before.pods]
    assert not {id(pod) for pod in before.pods} & {id(pod) for pod in after.pods}
    assert msgspec.to_builtins(after) == msgspec.to_builtins(fresh)
