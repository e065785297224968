"""Builders and checks shared by the session tests."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from k8s_monitor.sessions.messages import is_empty, tool_result_ids, tool_use_ids

Message = dict[str, Any]

WORDS = ["pod", "node", "ok", "breakdown", "downstream", "error", "down", "Outage", "latency"]


def turn(cycle: int, text: str, reply: str = "noted", **meta: Any) -> list[Message]:
    return [
        {"role": "user", "content": text, "meta": {"cycle": cycle, **meta}},
        {"role": "assistant", "content": reply},
    ]


def history_of(cycles: int, *, text: str = "all quiet", system: str = "be brief") -> list[Message]:
    history: list[Message] = [{"role": "system", "content": system}]
    for cycle in range(cycles):
        history.extend(turn(cycle, f"cycle {cycle}: {text}"))
    return history


def api_problems(history: list[Message]) -> list[str]:
    """Every way ``history`` breaks the Messages API's rules (empty when valid)."""
    problems: list[str] = []
    conversation = [m for m in history if m["role"] != "system"]
    if conversation and conversation[0]["role"] != "user":
        problems.append("first non-system message is not from the user")
    for before, after in itertools.pairwise(conversation):
        if before["role"] == after["role"]:
            problems.append(f"two {after['role']} messages in a row")
    for position, message in enumerate(conversation):
        if is_empty(message["content"]):
            problems.append(f"message {position} is empty")
        results = tool_result_ids(message)
        if results:
            previous = conversation[position - 1] if position else None
            if previous is None or not set(results) <= set(tool_use_ids(previous)):
                problems.append(f"message {position} has an orphan tool_result")
        uses = tool_use_ids(message)
        if uses and position + 1 < len(conversation):
            if not set(uses) <= set(tool_result_ids(conversation[position + 1])):
                problems.append(f"message {position} has an unanswered tool_use")
    return problems


@st.composite
def histories(draw: st.DrawFn, max_turns: int = 40) -> list[Message]:
    """Plausible histories: turns with text, tool calls, dangling questions, system notes."""
    text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join)
    history: list[Message] = []
    if draw(st.booleans()):
        history.append({"role": "system", "content": draw(text)})
    for cycle in range(draw(st.integers(0, max_turns))):
        meta = {"cycle": cycle, "fingerprints": draw(st.lists(st.sampled_from("abc"), max_size=2))}
        history.append({"role": "user", "content": draw(text), "meta": meta})
        shape = draw(st.sampled_from(["plain", "plain", "tool", "dangling", "blocks"]))
        if shape == "tool":
            call = f"call-{cycle}"
            history.append(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": draw(text)},
                        {"type": "tool_use", "id": call, "name": "kubectl", "input": {"n": cycle}},
                    ],
                }
            )
            history.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call, "content": "ok"}],
                }
            )
            history.append({"role": "assistant", "content": draw(text)})
        elif shape == "blocks":
            history.append({"role": "assistant", "content": [{"type": "text", "text": draw(text)}]})
        elif shape == "plain":
            history.append({"role": "assistant", "content": draw(text)})
        if draw(st.integers(0, 9)) == 0:
            history.append({"role": "system", "content": "note " + draw(text)})
    return history
