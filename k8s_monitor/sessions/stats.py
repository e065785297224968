"""What ``get_session_stats`` says of a loaded session (the CLI prints it as it is)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from k8s_monitor.sessions.messages import KIND_COMPACTION, Message, kind_of, tool_result_ids
from k8s_monitor.sessions.tokens import TokenCounter


def session_stats(
    session_id: str,
    document: dict[str, Any],
    *,
    counter: TokenCounter,
    max_context_tokens: int,
    threshold_tokens: int,
    encrypted: bool,
    file_bytes: int,
    backups: int,
) -> dict[str, Any]:
    history: list[Message] = document["conversation_history"]
    tokens = counter.count(history)
    roles = Counter(str(m.get("role")) for m in history)
    return {
        "session_id": session_id,
        "message_count": len(history),
        "estimated_tokens": tokens,
        "cycle_count": _cycle_count(document),
        "context_percentage": round(100.0 * tokens / max_context_tokens, 2),
        "max_context_tokens": max_context_tokens,
        "needs_prune": tokens >= threshold_tokens,
        "role_counts": dict(sorted(roles.items())),
        "compactions": sum(1 for m in history if kind_of(m) == KIND_COMPACTION),
        "saved_at": document.get("saved_at"),
        "schema_version": document.get("schema_version"),
        "encrypted": encrypted,
        "file_bytes": file_bytes,
        "backups": backups,
        "token_ratio": round(counter.ratio, 4),
    }


def _cycle_count(document: dict[str, Any]) -> int:
    declared = document["metadata"].get("cycle_count")
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared
    return sum(
        1
        for m in document["conversation_history"]
        if m.get("role") == "user" and kind_of(m) != KIND_COMPACTION and not tool_result_ids(m)
    )
