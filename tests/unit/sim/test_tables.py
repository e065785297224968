"""Server-side printing (what kubectl shows) and the scenario clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.sim.api import BY_PATH
from k8s_monitor.sim.tables import human_duration, to_table

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600 + 60 * 5, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (41 * 86400, "41d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(statuses: list[dict], phase: str = "Running") -> dict:  # type: ignore[type-arg]
    return {
        "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2026-03-02T11:00:00Z"},
        "spec": {"containers": [{"name": s["name"]} for s in statuses], "nodeName": "n1"},
        "status": {"phase": phase, "podIP": "10.0.0.1", "containerStatuses": statuses},
    }


def test_pod_row_status_ready_and_restarts() -> None:
    crash = {
        "name": "app",
        "ready": False,
        "restartCount": 7,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"finishedAt": "2026-03-02T11:58:00Z", "exitCode": 1}},
    }
    sidecar = {"name": "proxy", "ready": True, "restartCount": 0, "state": {"running": {}}}
    table = to_table([_pod([crash, sidecar])], BY_PATH[("", "v1", "pods")], NOW, {})
    name, ready, status, restarts, age, ip, node, *_ = table["rows"][0]["cells"]
    assert (name, ready, status, restarts, age, ip, node) == (
        "p",
        "1/2",
        "CrashLoopBackOff",
        "7 (2m ago)",
        "60m",
        "10.0.0.1",
        "n1",
    )
    completed = {
        "name": "job",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
    }
    row = to_table([_pod([completed], "Succeeded")], BY_PATH[("", "v1", "pods")], NOW, {})
    assert row["rows"][0]["cells"][2] == "Completed"


def test_node_row_and_default_table() -> None:
    node = {
        "metadata": {"name": "n1", "creationTimestamp": "2026-02-01T12:00:00Z", "labels": {}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "Unknown"}],
            "nodeInfo": {"kubeletVersion": "v1.30.4"},
        },
    }
    cells = to_table([node], BY_PATH[("", "v1", "nodes")], NOW, {})["rows"][0]["cells"]
    assert cells[:5] == ["n1", "NotReady,SchedulingDisabled", "<none>", "29d", "v1.30.4"]
    quota = to_table(
        [{"metadata": {"name": "q", "creationTimestamp": "2026-03-02T11:59:00Z"}}],
        BY_PATH[("", "v1", "resourcequotas")],
        NOW,
        {"resourceVersion": "5"},
        include_object="None",
    )
    assert [c["name"] for c in quota["columnDefinitions"]] == ["Name", "Age"]
    assert quota["rows"] == [{"cells": ["q", "60s"]}]
    assert quota["metadata"] == {"resourceVersion": "5"}


def test_wall_clock_scenarios_date_each_step_when_it_is_entered() -> None:
    with SimServer(load_scenario("incident-day")) as server:
        first = server.step_time(0)
        assert abs(first - datetime.now(UTC)) < timedelta(seconds=5)
        time.sleep(1.1)
        server.advance()
        assert server.step_time(1) > first
        # Timestamps are relative to the step's time: the crash loop began half a step ago.
        pods = server.view().collection("pods")
        assert pods is not None
        crashing = [
            p for p in pods.items(0, len(pods)) if p["metadata"]["labels"].get("app") == "checkout"
        ]
        last = crashing[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]
        finished = datetime.fromisoformat(last["finishedAt"].replace("Z", "+00:00"))
        assert server.step_time(1) - timedelta(seconds=450) <= finished <= server.step_time(1)
