from __future__ import annotations

import json

import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.converse.answer import (
    ANALYSIS_SCHEMA,
    ClusterHealth,
    CycleAnalysis,
    parse_analysis,
)
from k8s_monitor.converse.offline import deterministic_analysis
from k8s_monitor.errors import ModelAnswerError
from tests.builders import finding
from tests.unit.llm.helpers import CycleFeed

VALID = {
    "overall_health": "degraded",
    "summary": "  something  ",
    "new_fingerprints": ["a"],
    "recurring_fingerprints": ["b"],
    "resolved_fingerprints": [],
    "escalations": [
        {"fingerprint": "a", "severity": "SEV-3", "reason": "r"},
        {"fingerprint": "a", "severity": "SEV-2", "reason": "worse"},
    ],
    "recommended_actions": ["x", " ", "y"],
}


def test_parse_valid_answer():
    analysis = parse_analysis(json.dumps(VALID))
    assert analysis.overall_health is ClusterHealth.DEGRADED
    assert analysis.summary == "something"
    assert analysis.suggested_escalation == {"a": "SEV-2"}  # the most severe wins
    assert analysis.recommended_actions == ["x", "y"]


def test_parse_tolerates_a_code_fence():
    assert parse_analysis("```json\n" + json.dumps(VALID) + "\n```").summary == "something"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({**VALID, "overall_health": "fine"}),
        json.dumps({k: v for k, v in VALID.items() if k != "summary"}),
        json.dumps({**VALID, "extra": 1}),
        json.dumps(
            {**VALID, "escalations": [{"fingerprint": "a", "severity": "SEV-9", "reason": ""}]}
        ),
    ],
)
def test_parse_rejects_invalid_answers(text):
    with pytest.raises(ModelAnswerError):
        parse_analysis(text)


def test_schema_and_model_agree():
    assert set(ANALYSIS_SCHEMA["properties"]) == set(CycleAnalysis.model_fields)
    assert set(ANALYSIS_SCHEMA["required"]) == set(CycleAnalysis.model_fields)


def test_restricted_to_known_fingerprints():
    analysis = parse_analysis(json.dumps(VALID)).restricted_to({"b"})
    assert analysis.new_fingerprints == []
    assert analysis.recurring_fingerprints == ["b"]
    assert analysis.escalations == []


def test_deterministic_analysis_follows_the_ledger():
    feed = CycleFeed()
    feed.next([finding("old", Severity.WARNING)])
    data = feed.next([finding("api", Severity.CRITICAL)])
    analysis = deterministic_analysis(data, reason="offline")
    assert analysis.overall_health is ClusterHealth.CRITICAL
    assert analysis.new_fingerprints == [finding("api").fingerprint]
    assert analysis.resolved_fingerprints == [finding("old").fingerprint]
    assert analysis.recommended_actions[0].startswith("Investigate CrashLoopBackOff")
    assert analysis.escalations == []
    assert "offline" in analysis.summary
    healthy = deterministic_analysis(CycleFeed().next([]), reason="offline")
    assert healthy.overall_health is ClusterHealth.HEALTHY


def test_answer_text_is_bounded_here_since_the_schema_sent_cannot_say_so():
    analysis = CycleAnalysis.model_validate(
        {
            "overall_health": "degraded",
            "summary": "  " + "s" * 5_000,
            "recommended_actions": ["", "   ", *(f"step {i} " + "x" * 600 for i in range(12))],
            "investigations": [
                {
                    "fingerprint": "abc",
                    "root_cause": {
                        "summary": " the key was renamed ",
                        "evidence": ["q" * 700] * 8,
                    },
                    "next_steps": [" kubectl describe pod web-1 ", ""],
                }
            ],
        }
    )
    assert len(analysis.summary) == 4_000 and analysis.summary.startswith("s")
    assert len(analysis.recommended_actions) == 10
    assert all(len(a) == 500 for a in analysis.recommended_actions)
    [investigation] = analysis.investigations
    assert investigation.root_cause.summary == "the key was renamed"
    assert [len(q) for q in investigation.root_cause.evidence] == [600] * 6
    assert investigation.next_steps == ["kubectl describe pod web-1"]
