"""What the persistent conversation needs from the session layer (``sessions.SessionManager``).

A structural type, so this package depends on the contract rather than on one implementation,
and tests can hand in the real manager or a small double alike.
"""

from __future__ import annotations

from typing import Any, Protocol

from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.sessions.tokens import TokenCounter


class PruneOutcome(Protocol):
    @property
    def history(self) -> list[dict[str, Any]]: ...
    @property
    def dropped_count(self) -> int: ...
    @property
    def compacted(self) -> bool: ...
    @property
    def tokens_before(self) -> int: ...
    @property
    def tokens_after(self) -> int: ...


class SessionStore(Protocol):
    @property
    def token_counter(self) -> TokenCounter: ...

    def load_session(self, session_id: str) -> dict[str, Any] | None: ...

    def save_session(
        self,
        session_id: str,
        conversation_history: list[dict[str, Any]],
        metadata: dict[str, Any],
        *,
        state: dict[str, Any] | None = None,
    ) -> Any: ...

    def should_prune(self, history: list[dict[str, Any]]) -> bool: ...

    def prune_to_budget(
        self, history: list[dict[str, Any]], *, ledger: Ledger | None = None
    ) -> PruneOutcome: ...

    def count_tokens(self, history: list[dict[str, Any]]) -> int: ...

    def calibrate(self, sent_history: list[dict[str, Any]], actual_input_tokens: int) -> float: ...
