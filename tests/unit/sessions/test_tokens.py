"""The token counter: chars / 4, calibrated by exact usage, bounded, persisted."""

from __future__ import annotations

import pytest

from k8s_monitor.errors import ModelRetryableError
from k8s_monitor.sessions import TokenCounter
from k8s_monitor.sessions.messages import content_chars


def test_starts_at_four_characters_per_token() -> None:
    counter = TokenCounter()
    assert counter.message_tokens({"role": "user", "content": "x" * 400}) == 4 + 100


def test_blocks_count_text_tool_input_and_results() -> None:
    content = [
        {"type": "text", "text": "abcd"},
        {"type": "tool_use", "id": "t", "name": "kc", "input": {"a": 1}},
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "xy"}]},
    ]
    assert content_chars(content) == 4 + (2 + len('{"a":1}')) + 2


def test_calibration_moves_towards_observed_usage_and_is_clamped() -> None:
    counter = TokenCounter()
    history = [{"role": "user", "content": "y" * 4000}]
    raw = counter.count(history)
    counter.calibrate(history, raw * 2)
    assert counter.count(history) == pytest.approx(raw * 2, rel=0.01)
    counter.calibrate(history, raw * 1000)  # absurd sample: bounded
    assert counter.ratio <= 4.0
    restored = TokenCounter()
    restored.load_state(counter.to_state())
    assert restored.ratio == counter.ratio and restored.samples == 2
    restored.load_state({"ratio": "bad", "samples": -1})  # ignored, not fatal
    assert restored.ratio == counter.ratio


def test_count_fn_failures_fall_back_to_the_estimate() -> None:
    def failing(system: str | None, messages: list[dict]) -> int:
        raise ModelRetryableError("overloaded")

    counter = TokenCounter(count_fn=failing)
    history = [{"role": "user", "content": "z" * 40}]
    assert counter.count_exact(history) == counter.count(history)
