"""One retry policy for every loop we own: notification delivery, spool replay, list requests.

Model calls are not here on purpose: the anthropic SDK retries them itself (``LLM_MAX_RETRIES``),
and a second loop around it would multiply the attempts and the cost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all, waiting ``base_delay * 2**n`` (capped) between them.

    A server that says when to come back (``Retry-After``) is believed, within the same cap.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 5.0

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        wanted = retry_after if retry_after is not None else self.base_delay * (2**attempt)
        return float(max(0.0, min(wanted, self.max_delay)))

    @property
    def retries(self) -> int:
        return max(self.attempts, 1) - 1
