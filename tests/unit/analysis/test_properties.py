"""Properties over generated pods: analyze never crashes, is order-independent, groups pods."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8s_monitor.analysis.findings import Severity
from tests.unit.analysis.helpers import pod, run, terminated

TIMES = st.sampled_from(["2024-05-01T00:00:00Z", "09:00", "09:50", "09:59", "2024-05-14T10:30:00Z"])
WAITING = st.sampled_from(
    [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ContainerCreating",
        "CreateContainerConfigError",
        "PodInitializing",
        "RunContainerError",
        "Weird",
    ]
)
TERMINATION = st.sampled_from(
    ["OOMKilled", "Error", "Completed", "StartError", "ContainerCannotRun"]
)


@st.composite
def container(draw: st.DrawFn) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": draw(st.sampled_from(["app", "sidecar"])),
        "ready": draw(st.booleans()),
        "restartCount": draw(st.integers(0, 50)),
    }
    state = draw(st.sampled_from(["running", "waiting", "terminated", "none"]))
    if state == "running":
        status["state"] = {"running": {"startedAt": "2024-05-14T08:00:00Z"}}
    elif state == "waiting":
        status["state"] = {"waiting": {"reason": draw(WAITING)}}
    elif state == "terminated":
        status["state"] = {
            "terminated": terminated(draw(st.integers(0, 255)), draw(TERMINATION), draw(TIMES))
        }
    if draw(st.booleans()):
        status["lastState"] = {
            "terminated": terminated(draw(st.integers(0, 255)), draw(TERMINATION), draw(TIMES))
        }
    return status


@st.composite
def pods(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 6))
    owner = draw(
        st.sampled_from(
            [
                None,
                ("ReplicaSet", "web-5d4c3b2a1"),
                ("Job", "batch-1"),
                ("StatefulSet", "db"),
                ("DaemonSet", "agent"),
            ]
        )
    )
    return [
        pod(
            f"web-5d4c3b2a1-{i}",
            owner=owner,
            labels={"pod-template-hash": "5d4c3b2a1"},
            phase=draw(st.sampled_from(["Running", "Pending", "Failed", "Succeeded", "Unknown"])),
            ready=draw(st.booleans()),
            ready_since=draw(TIMES),
            created=draw(TIMES),
            containers=draw(st.lists(container(), max_size=2)),
            init=draw(st.one_of(st.none(), st.lists(container(), max_size=1))),
            reason=draw(st.sampled_from(["", "Evicted", "NodeLost", "OutOfcpu"])),
        )
        for i in range(count)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pods())
def test_analyze_is_total_deterministic_and_grouped(objects: list[dict[str, Any]]) -> None:
    forward = [f.to_json() for f in run(*objects)]
    backward = [f.to_json() for f in run(*reversed(objects))]
    assert forward == backward
    fingerprints = [f.fingerprint for f in forward]
    assert len(fingerprints) == len(set(fingerprints))
    for finding in forward:
        assert finding.severity in {s.value for s in Severity}
        assert finding.objects, finding
        if finding.kind == "Deployment":
            assert finding.name == "web"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(["Running", "Succeeded"]), min_size=1, max_size=5))
def test_ready_or_completed_pods_are_silent(phases: list[str]) -> None:
    healthy = [
        pod(
            f"p{i}",
            phase=phase,
            ready=phase == "Running",
            containers=[
                {
                    "name": "app",
                    "ready": phase == "Running",
                    "restartCount": 0,
                    "state": {"running": {}}
                    if phase == "Running"
                    else {"terminated": terminated(0, "Completed")},
                }
            ],
        )
        for i, phase in enumerate(phases)
    ]
    assert run(*healthy) == []
