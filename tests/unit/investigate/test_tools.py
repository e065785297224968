"""The tool set: errors are results, outputs are capped and marked untrusted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from k8s_monitor.analysis.findings import CauseRef, Finding, ObjectRef, Severity
from k8s_monitor.analysis.incidents import RootCause
from k8s_monitor.investigate.tools import (
    TOOL_NAMES,
    TOOL_SPECS,
    FindingView,
    Toolbox,
    check_input,
)
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import SimServer
from tests import builders
from tests.builders import finding
from tests.fakes.anthropic_server import validate_tools


def _pods(sim: SimServer, prefix: str) -> list[str]:
    pods = sim.view().collection("pods")
    assert pods is not None
    return [
        p["metadata"]["name"]
        for p in pods.items(0, len(pods))
        if p["metadata"]["name"].startswith(prefix)
    ]


def test_specs_are_valid_api_tool_definitions() -> None:
    validate_tools(list(TOOL_SPECS))
    assert len(TOOL_NAMES) == len(TOOL_SPECS)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("get_object", {"kind": "Secret", "namespace": "shop", "name": "x"}, "never read"),
        ("get_object", {"kind": "Gadget", "name": "x"}, "unknown kind"),
        ("get_object", {"kind": "Pod", "namespace": "shop", "name": "gone-1"}, "not found"),
        ("list_objects", {"kind": "Pod", "label_selector": "a=(b"}, "selector"),
        ("get_object", {"kind": "Pod"}, "name is required"),
        ("get_object", {"kind": "Pod", "name": 3}, "must be a string"),
        ("get_object", {"kind": "Pod", "name": "a", "verb": "delete"}, "unknown field"),
        ("kubectl_delete", {"name": "a"}, "unknown tool"),
        ("get_logs", "not an object", "JSON object"),
    ],
)
def test_bad_calls_are_error_results(
    toolbox: Toolbox, name: str, arguments: object, expected: str
) -> None:
    outcome = toolbox.run(name, arguments)
    assert outcome.is_error and expected in outcome.text


def test_forbidden_is_an_error_result(toolbox: Toolbox, sim: SimServer) -> None:
    sim.faults.set("nodes", 403, count=1)
    outcome = toolbox.run("node_detail", {"name": "node-a"})
    assert outcome.is_error and "forbidden" in outcome.text
    assert outcome.error_type == "AccessDeniedError"


def test_outputs_are_wrapped_redacted_and_capped(toolbox: Toolbox, sim: SimServer) -> None:
    pod = _pods(sim, "worker-")[0]
    sim.set_pod_log("shop", pod, "worker", "token=abcdef0123456789abcdef\n" * 2_000, True)
    outcome = toolbox.run(
        "get_logs", {"namespace": "shop", "pod": pod, "container": "worker", "previous": True}
    )
    assert not outcome.is_error
    assert outcome.text.startswith('<tool_output tool="get_logs"')
    assert "abcdef0123456789abcdef" not in outcome.text
    assert len(outcome.text) <= toolbox.max_chars
    listed = toolbox.run("list_objects", {"kind": "Event", "limit": 200})
    assert len(listed.text) <= toolbox.max_chars


def test_rollout_history_tool_names_the_image_change(toolbox: Toolbox) -> None:
    outcome = toolbox.run(
        "rollout_history", {"namespace": "shop", "deployment": "checkout", "incident": "ab12"}
    )
    assert not outcome.is_error and outcome.incident == "ab12"
    assert "checkout:1.0" in outcome.text and "checkout:2.0" in outcome.text


def test_finding_evidence_shows_cause_graph_and_remembered_cause() -> None:
    node_finding = finding(
        "node-a",
        Severity.CRITICAL,
        kind="Node",
        namespace="",
        reason="NodeNotReady",
        message="down",
        evidence={},
        objects=(),
    )
    pod_finding = Finding(
        subject=ObjectRef(kind="Pod", namespace="shop", name="p"),
        reason="PodNotReady",
        severity=Severity.WARNING,
        message="not ready",
        caused_by=CauseRef(kind="Node", namespace="", name="node-a", reason="NodeNotReady"),
    )
    root_cause = RootCause(summary="kubelet stopped", evidence=("Ready=False",))
    incident = builders.incident(
        node_finding, at=datetime(2026, 3, 2, tzinfo=UTC), last_cycle=2, root_cause=root_cause
    )
    view = FindingView(
        findings={f.fingerprint: f for f in (node_finding, pod_finding)},
        incidents={incident.fingerprint: incident},
    )
    box = Toolbox(None, Redactor().redact)
    assert [s["name"] for s in box.specs] == ["finding_evidence"]
    outcome = box.run("finding_evidence", {"fingerprint": node_finding.fingerprint}, view)
    assert not outcome.is_error
    assert pod_finding.fingerprint in outcome.text and "kubelet stopped" in outcome.text
    missing = box.run("finding_evidence", {"fingerprint": "nope"}, view)
    assert missing.is_error
    cluster = box.run("get_object", {"kind": "Pod", "name": "x"}, view)
    assert cluster.is_error and "not available" in cluster.text


def test_check_input_rejects_booleans_for_integers() -> None:
    with pytest.raises(ValueError, match="integer"):
        check_input("list_objects", {"kind": "Pod", "limit": True})
