"""Investigation turns in a session: pruned as units, folded into root causes when compacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.analysis.incidents import Ledger, RootCause
from k8s_monitor.llm.wire import build_request
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sessions.messages import content_text
from tests import builders
from tests.builders import finding
from tests.fakes.anthropic_server import validate_messages
from tests.unit.sessions.helpers import api_problems

TOOLS = [{"name": "get_logs", "input_schema": {"type": "object", "properties": {}}}]


def _investigated_cycle(cycle: int, fingerprint: str, rounds: int) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": f"<cycle {cycle}> checkout crash-loops " + "detail " * 300,
            "meta": {"cycle": cycle, "fingerprints": [fingerprint], "kind": "cycle_delta"},
        }
    ]
    for number in range(rounds):
        call = f"toolu_{cycle}_{number}"
        turns.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call, "name": "get_logs", "input": {}}],
                "meta": {"cycle": cycle, "kind": "tool_use"},
            }
        )
        turns.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call, "content": "log " * 400}],
                "meta": {"cycle": cycle, "kind": "tool_result"},
            }
        )
    turns.append(
        {"role": "assistant", "content": '{"summary": "ok"}', "meta": {"kind": "analysis"}}
    )
    return turns


def test_prune_keeps_tool_pairs_and_compaction_keeps_the_root_cause(tmp_path: Path) -> None:
    found = finding("checkout", Severity.CRITICAL, message="down", evidence={}, objects=())
    root_cause = RootCause(summary="the database password was rotated", cycle=2)
    incident = builders.incident(found, last_cycle=30, root_cause=root_cause)
    ledger = Ledger(cycle=30, incidents={incident.fingerprint: incident})
    manager = SessionManager(tmp_path, max_context_tokens=20_000)
    history: list[dict[str, Any]] = []
    for cycle in range(1, 31):
        history.extend(_investigated_cycle(cycle, incident.fingerprint, rounds=cycle % 4))
    assert manager.should_prune(history)
    pruned = list(manager.prune_to_budget(history, ledger=ledger).history)
    assert api_problems(pruned) == []
    assert len(pruned) < len(history)
    summary = next(m for m in pruned if (m.get("meta") or {}).get("kind") == "compaction")
    assert "root cause: the database password was rotated" in content_text(summary["content"])
    request = build_request(
        [*pruned, {"role": "user", "content": "<cycle 31> next"}],
        max_tokens=100,
        output_schema=None,
        cache_ttl="1h",
        redact=lambda text: text,
        system_prompt="s",
        tools=TOOLS,
        tool_choice={"type": "auto"},
    )
    validate_messages(
        {
            "model": "m",
            "max_tokens": 100,
            "system": request.system,
            "messages": request.messages,
            "tools": request.tools,
            "tool_choice": request.tool_choice,
        }
    )
