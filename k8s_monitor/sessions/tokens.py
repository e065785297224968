"""Token counting for session history: a calibrated characters-per-token estimate.

The estimate starts at characters / 4 and is corrected by the exact ``usage.input_tokens`` the
API reports for what was actually sent, so pruning decisions track the real tokenizer without
a network call per check. A caller with a model online may inject ``count_fn`` (for instance
the API's ``count_tokens``); this package never imports the model client itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from k8s_monitor.errors import ModelError
from k8s_monitor.sessions.messages import Message, content_chars, content_text

log = structlog.get_logger(__name__)

CountFn = Callable[[str | None, list[dict[str, Any]]], int]

DEFAULT_CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators the API adds per message
_MIN_RATIO, _MAX_RATIO = 0.25, 4.0
_SMOOTHING = 0.3  # weight of the newest usage sample; older samples decay geometrically


class TokenCounter:
    """Estimates tokens of messages; ``ratio`` is the calibration learned from real usage."""

    def __init__(
        self,
        chars_per_token: float = DEFAULT_CHARS_PER_TOKEN,
        *,
        ratio: float = 1.0,
        samples: int = 0,
        count_fn: CountFn | None = None,
    ) -> None:
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")
        self.chars_per_token = chars_per_token
        self.ratio = _clamp(ratio)
        self.samples = samples
        self.count_fn = count_fn

    def text_tokens(self, chars: int) -> int:
        return math.ceil(chars * self.ratio / self.chars_per_token)

    def message_tokens(self, message: Mapping[str, Any]) -> int:
        return MESSAGE_OVERHEAD_TOKENS + self.text_tokens(content_chars(message.get("content")))

    def count(self, history: Iterable[Mapping[str, Any]]) -> int:
        """The calibrated estimate; cheap enough to call on every check."""
        return sum(self.message_tokens(message) for message in history)

    def count_exact(self, history: list[Message]) -> int:
        """Ask ``count_fn`` when one is set; fall back to the estimate if it fails."""
        if self.count_fn is None:
            return self.count(history)
        system, messages = api_view(history)
        try:
            return int(self.count_fn(system, messages))
        except ModelError as exc:
            log.warning("token_count_fallback", error=type(exc).__name__)
            return self.count(history)

    def calibrate(self, history: Iterable[Mapping[str, Any]], actual_input_tokens: int) -> float:
        """Fold one exact usage figure for ``history`` into the ratio; returns the new ratio."""
        raw = sum(
            MESSAGE_OVERHEAD_TOKENS + content_chars(m.get("content")) / self.chars_per_token
            for m in history
        )
        if raw <= 0 or actual_input_tokens <= 0:
            return self.ratio
        sample = _clamp(actual_input_tokens / raw)
        weight = 1.0 if self.samples == 0 else _SMOOTHING
        self.ratio = _clamp((1 - weight) * self.ratio + weight * sample)
        self.samples += 1
        return self.ratio

    def to_state(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "samples": self.samples,
            "chars_per_token": self.chars_per_token,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Adopt a persisted calibration; malformed values are ignored, not fatal."""
        ratio = state.get("ratio")
        samples = state.get("samples")
        if isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio > 0:
            self.ratio = _clamp(float(ratio))
        if isinstance(samples, int) and not isinstance(samples, bool) and samples >= 0:
            self.samples = samples


def api_view(history: Iterable[Mapping[str, Any]]) -> tuple[str | None, list[Message]]:
    """System text and messages as the API sees them: system separate, ``meta`` stripped."""
    system_parts: list[str] = []
    messages: list[Message] = []
    for message in history:
        if message.get("role") == "system":
            system_parts.append(content_text(message.get("content")))
            continue
        messages.append({"role": message.get("role"), "content": message.get("content")})
    return ("\n\n".join(system_parts) if system_parts else None), messages


def _clamp(ratio: float) -> float:
    return min(_MAX_RATIO, max(_MIN_RATIO, ratio))
