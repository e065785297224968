"""Turning stored history into a request the Messages API accepts, every time.

Stored entries may carry a ``meta`` dict, ``system`` turns, plain-string or block content,
empty text, or consecutive turns of one role (after a prune or compaction). What is sent
satisfies the API's rules: ``system`` only through the system parameter; roles alternate
``user``/``assistant`` starting with ``user``; no empty or whitespace-only text blocks; only
text blocks (we use no tools, so no tool_use/tool_result pair can be broken); our own cache
breakpoints only, at most four. Every text is redacted once more on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from k8s_monitor.llm.cache import CacheTTL, place_breakpoints
from k8s_monitor.llm.protocol import ModelRequest
from k8s_monitor.memo import TextMemo
from k8s_monitor.redaction import Redact

HistoryEntry = dict[str, Any]

PRUNED_MARKER = (
    "(Earlier cycles of this conversation were pruned; their state is summarised below.)"
)
_ROLES = ("user", "assistant")


def build_request(
    history: Sequence[HistoryEntry],
    *,
    max_tokens: int,
    output_schema: dict[str, Any] | None,
    cache_ttl: CacheTTL | None,
    redact: Redact,
    system_prompt: str | None,
    cache_history: bool = True,
) -> ModelRequest:
    """A request for ``history`` (whose last entry is the new user message).

    ``system_prompt`` leads the system blocks; the caller owns what the model is told, this
    module only how it is sent.
    """
    extra_system, messages = to_api_messages(history, redact)
    texts = [system_prompt] if system_prompt else []
    texts.extend(extra_system)
    system = [{"type": "text", "text": text} for text in texts]
    place_breakpoints(system, messages, cache_ttl, history=cache_history)
    return ModelRequest(
        system=system, messages=messages, max_tokens=max_tokens, output_schema=output_schema
    )


def to_api_messages(
    history: Sequence[HistoryEntry], redact: Redact
) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, messages)``: meta stripped, roles merged and alternating."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for entry in history:
        role = entry.get("role")
        blocks = [{"type": "text", "text": redact(text)} for text in _texts(entry.get("content"))]
        if not blocks:
            continue
        if role == "system":
            system.extend(block["text"] for block in blocks)
            continue
        if role not in _ROLES:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    if messages and messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": PRUNED_MARKER}]})
    return system, messages


def _texts(content: Any) -> list[str]:
    """Non-blank texts of a stored content value (a string or a list of blocks)."""
    if isinstance(content, str):
        return [content] if content.strip() else []
    if not isinstance(content, list):
        return []
    texts = []
    for block in content:
        if isinstance(block, str):
            text = block
        elif isinstance(block, dict) and block.get("type") == "text":
            text = str(block.get("text", ""))
        else:
            continue
        if text.strip():
            texts.append(text)
    return texts


# Enough for the texts of a full 1M-token history (about 4M characters) and their redactions.
MEMO_MAX_CHARS = 16 * 1024 * 1024


def memo_size_for(max_context_tokens: int) -> int:
    """Characters to hold: a full history (about 4 per token) and its redactions, twice over."""
    return min(MEMO_MAX_CHARS, 16 * max_context_tokens)


def memoized(redact: Redact, max_chars: int = MEMO_MAX_CHARS) -> TextMemo[str]:
    """``redact`` with a cache: history is resent every cycle, and each text needs one pass.

    Redaction is a pure function of the text, so a cached result is the same bytes; that also
    keeps the cached prompt prefix stable. Bounded by size, not count: cycle messages vary from
    a few hundred bytes to tens of kilobytes, and a long-running daemon must not grow.
    """
    return TextMemo(redact, max_chars)
