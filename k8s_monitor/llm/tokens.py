"""Token estimates for text not yet sent: characters / 4, scaled by what responses report.

Exact counts come from each response's ``usage``; ``TokenEstimator.calibrate`` folds them in
so estimates for the next message (its budget, the pre-flight context check) track the real
tokenizer without a network call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHARS_PER_TOKEN = 4.0
_MIN_SCALE = 0.5
_MAX_SCALE = 3.0
_SMOOTHING = 0.3  # weight of the newest observation


def estimate_tokens(text: str) -> int:
    """The last-resort estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass
class TokenEstimator:
    """chars/4, multiplied by a scale learned from (estimated, actual) pairs."""

    scale: float = 1.0
    samples: int = 0

    def estimate(self, text: str) -> int:
        return self.estimate_chars(len(text))

    def estimate_chars(self, chars: int) -> int:
        return math.ceil(chars / CHARS_PER_TOKEN * self.scale)

    def calibrate(self, estimated_raw: int, actual: int) -> None:
        """Fold one observation in; ``estimated_raw`` is the unscaled chars/4 estimate."""
        if estimated_raw <= 0 or actual <= 0:
            return
        observed = min(max(actual / estimated_raw, _MIN_SCALE), _MAX_SCALE)
        weight = 1.0 if self.samples == 0 else _SMOOTHING
        self.scale = (1 - weight) * self.scale + weight * observed
        self.samples += 1
