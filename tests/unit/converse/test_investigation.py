"""The investigation loop against the strict fake API and the simulated cluster."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.ledger import with_root_causes
from k8s_monitor.converse import AnalysisSource, build_conversation
from k8s_monitor.converse.context import CycleContext
from k8s_monitor.investigate.tools import Toolbox
from k8s_monitor.sessions.messages import tool_result_ids, tool_use_ids
from k8s_monitor.sim import SimServer
from tests.builders import finding
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    ToolScript,
    count_text,
    validate_messages,
)
from tests.unit.cluster.lookup_world import worker_pod
from tests.unit.llm.helpers import CycleFeed


def _findings(sim: SimServer) -> list[Finding]:
    return [
        finding(
            worker_pod(sim),
            Severity.CRITICAL,
            kind="Pod",
            message="worker crash-loops",
            evidence={"restarts": 4, "exit_code": 1},
        ),
        finding(
            "checkout",
            Severity.CRITICAL,
            reason="DeploymentUnavailable",
            message="checkout unavailable",
            evidence={},
        ),
    ]


def _urgent(context: CycleContext) -> CycleContext:
    ordered = tuple(sorted(i.fingerprint for i in context.ledger_update.open))
    return dataclasses.replace(context, urgent=ordered)


def _conversation(make_settings: Any, sessions: Any, toolbox: Toolbox, **overrides: Any) -> Any:
    return build_conversation(make_settings(**overrides), sessions, toolbox=toolbox)


def _history(sessions: Any, settings_id: str = "k8s-monitor-default") -> list[dict[str, Any]]:
    loaded = sessions.load_session(settings_id)
    assert loaded is not None
    history: list[dict[str, Any]] = loaded["conversation_history"]
    return history


def test_persistent_investigation_stores_tool_turns_and_finds_root_causes(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    fake.tool_script = ToolScript()
    conversation = _conversation(make_settings, sessions, toolbox)
    feed = CycleFeed()
    findings = _findings(sim)
    outcome = conversation.converse(_urgent(feed.next(findings)))
    assert outcome.source is AnalysisSource.MODEL
    stats = outcome.investigation
    assert stats is not None and stats.incidents and stats.stopped is None
    assert 0 < stats.tool_calls <= 8 * len(stats.incidents)
    assert set(outcome.root_causes) == {f.fingerprint for f in findings}
    pod_cause = outcome.root_causes[findings[0].fingerprint]
    assert pod_cause.evidence and pod_cause.next_steps
    assert fake.stats.rejected == 0
    for body in fake.bodies():
        validate_messages(body)
        assert body["tools"][0]["name"] == "get_object"
    history = _history(sessions)
    kinds = [m.get("meta", {}).get("kind") for m in history]
    assert kinds[0] == "cycle_full" and kinds[-1] == "analysis"
    assert kinds[1:-1] == ["tool_use", "tool_result"] * stats.rounds
    for use, result in zip(history[1:-1:2], history[2:-1:2], strict=True):
        assert tool_use_ids(use) == tool_result_ids(result)
    # Tool output reached the model as untrusted data, with secrets redacted.
    sent = str(fake.bodies()[-1]["messages"])
    assert "untrusted-cluster-data" in sent
    assert "sw0rdfish" not in sent and "hunter2-plain-value" not in sent


def test_recurring_incident_with_unchanged_evidence_is_not_investigated_again(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    fake.tool_script = ToolScript()
    conversation = _conversation(make_settings, sessions, toolbox)
    feed = CycleFeed()
    findings = _findings(sim)
    first = conversation.converse(_urgent(feed.next(findings)))
    feed.ledger = with_root_causes(feed.ledger, first.root_causes)
    calls = len(fake.tool_script.calls)
    changed = [msgspec.structs.replace(findings[0], evidence={"restarts": 9, "exit_code": 1})]
    second = conversation.converse(_urgent(feed.next([*changed, findings[1]])))
    assert len(fake.tool_script.calls) == calls  # 0 tool calls: restarts are not evidence
    assert second.investigation is not None and second.investigation.tool_calls == 0
    assert sorted(second.investigation.reused_root_causes) == sorted(first.root_causes)
    last = fake.bodies()[-1]
    assert last["tool_choice"] == {"type": "none"}
    assert "Remembered root causes" in str(last["messages"][-1])
    assert fake.stats.rejected == 0
    # The tool definitions lead the cached prefix: the next cycle reads them from the cache.
    tools_tokens = sum(count_text(json.dumps(tool)) for tool in last["tools"])
    assert last["tools"] == fake.bodies()[0]["tools"]
    assert second.usage.cache_read_tokens > tools_tokens


def test_over_the_limit_the_loop_stops_and_the_answer_comes_without_tools(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    def greedy(request: dict[str, Any]) -> list[list[dict[str, Any]]]:
        call = {"name": "node_detail", "input": {"name": "node-a"}}
        return [[call] * 5 for _ in range(10)]

    fake.tool_script = ToolScript(plan=greedy)
    conversation = _conversation(make_settings, sessions, toolbox, investigate_max_tool_calls=3)
    feed = CycleFeed()
    outcome = conversation.converse(_urgent(feed.next(_findings(sim)[:1])))
    assert outcome.source is AnalysisSource.MODEL
    stats = outcome.investigation
    assert stats is not None
    assert stats.tool_calls == 3 and stats.stopped == "tool_calls"
    assert stats.refused_calls == 2
    assert fake.bodies()[-1]["tool_choice"] == {"type": "none"}
    assert fake.stats.rejected == 0


def test_bad_calls_become_error_results_and_the_loop_goes_on(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    def clumsy(request: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [
            [
                {
                    "name": "get_object",
                    "input": {"kind": "Secret", "name": "db", "namespace": "shop"},
                },
                {"name": "get_object", "input": {"kind": "Widget", "name": "x"}},
                {"name": "list_objects", "input": {"kind": "Pod", "label_selector": "a=(b"}},
                {
                    "name": "get_object",
                    "input": {"kind": "Pod", "namespace": "shop", "name": "gone"},
                },
                {"name": "kubectl_exec", "input": {"cmd": "rm"}, "force": True},
                {"name": "get_logs", "input": {"pod": 7}},
            ],
            [{"name": "node_detail", "input": {"name": "node-a"}}],
        ]

    fake.tool_script = ToolScript(plan=clumsy, truncate_turn=1)
    conversation = _conversation(make_settings, sessions, toolbox)
    outcome = conversation.converse(_urgent(CycleFeed().next(_findings(sim)[:1])))
    assert outcome.source is AnalysisSource.MODEL and outcome.session_saved
    stats = outcome.investigation
    assert stats is not None
    assert stats.tool_errors == 6 and stats.unknown_tools == 1 and stats.bad_inputs == 1
    assert stats.truncated_replies == 1
    results = [
        b
        for m in _history(sessions)
        if m["role"] == "user" and isinstance(m["content"], list)
        for b in m["content"]
    ]
    assert len(results) == 7 and all(b["is_error"] for b in results)
    assert "never read" in results[0]["content"]
    assert fake.stats.rejected == 0


def test_stateless_investigation_keeps_nothing_but_the_root_cause(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    fake.tool_script = ToolScript()
    conversation = _conversation(make_settings, sessions, toolbox, enable_long_context=False)
    outcome = conversation.converse(_urgent(CycleFeed().next(_findings(sim))))
    assert outcome.root_causes and not outcome.session_saved
    assert sessions.load_session("k8s-monitor-default") is None
    assert fake.stats.rejected == 0


def test_stateless_digest_carries_remembered_root_causes(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    fake.tool_script = ToolScript()
    conversation = _conversation(make_settings, sessions, toolbox, enable_long_context=False)
    feed = CycleFeed()
    findings = _findings(sim)
    first = conversation.converse(_urgent(feed.next(findings)))
    feed.ledger = with_root_causes(feed.ledger, first.root_causes)
    calls = len(fake.tool_script.calls)
    conversation.converse(_urgent(feed.next(findings)))
    assert len(fake.tool_script.calls) == calls
    sent = str(fake.bodies()[-1]["messages"])
    assert "root cause:" in sent and "diagnosed from the cluster" in sent
    assert fake.stats.rejected == 0


def test_bedrock_gets_the_same_loop(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    import anthropic

    from k8s_monitor.llm.providers import AnthropicProvider

    fake.tool_script = ToolScript()
    client = anthropic.AnthropicBedrock(
        api_key="test-key", aws_region="eu-west-1", base_url=fake.url, max_retries=0
    )
    provider = AnthropicProvider(client, model="anthropic.claude-haiku-5-5", name="bedrock")
    conversation = build_conversation(make_settings(), sessions, provider=provider, toolbox=toolbox)
    outcome = conversation.converse(_urgent(CycleFeed().next(_findings(sim))))
    assert outcome.source is AnalysisSource.MODEL and outcome.root_causes
    assert outcome.investigation is not None and outcome.investigation.tool_calls > 0
    assert {r.path for r in fake.records} == {"/model/anthropic.claude-haiku-5-5/invoke"}
    assert fake.stats.rejected == 0


def test_the_deadline_stops_the_loop_and_the_cycle_completes(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    fake.tool_script = ToolScript()
    conversation = _conversation(
        make_settings, sessions, toolbox, investigate_deadline_seconds=0.001
    )
    outcome = conversation.converse(_urgent(CycleFeed().next(_findings(sim))))
    stats = outcome.investigation
    assert stats is not None and stats.stopped == "deadline" and stats.rounds == 1
    assert outcome.source is AnalysisSource.MODEL and outcome.session_saved
    assert fake.bodies()[-1]["tool_choice"] == {"type": "none"}
    assert fake.stats.rejected == 0


def test_an_investigation_without_an_answer_is_not_repeated_on_the_same_evidence(
    fake: FakeAnthropic, sessions: Any, make_settings: Any, toolbox: Toolbox, sim: SimServer
) -> None:
    import json

    from tests.fakes.anthropic_server import deterministic_answer

    def silent(request: dict[str, Any]) -> str:
        return json.dumps({**json.loads(deterministic_answer(request)), "investigations": []})

    fake.answer = silent
    fake.tool_script = ToolScript()
    conversation = _conversation(make_settings, sessions, toolbox)
    feed = CycleFeed()
    findings = _findings(sim)[:1]
    first = conversation.converse(_urgent(feed.next(findings)))
    cause = first.root_causes[findings[0].fingerprint]
    assert cause.confidence == "low" and "no root cause" in cause.summary
    feed.ledger = with_root_causes(feed.ledger, first.root_causes)
    calls = len(fake.tool_script.calls)
    second = conversation.converse(_urgent(feed.next(findings)))
    assert len(fake.tool_script.calls) == calls
    assert second.investigation is not None and second.investigation.tool_calls == 0
