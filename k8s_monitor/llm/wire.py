"""Turning stored history into a request the Messages API accepts, every time.

Stored entries may carry a ``meta`` dict, ``system`` turns, plain-string or block content,
empty text, or consecutive turns of one role (after a prune or compaction). What is sent
satisfies the API's rules: ``system`` only through the system parameter; roles alternate
``user``/``assistant`` starting with ``user``; no empty or whitespace-only text blocks; our own
cache breakpoints only, at most four. Every text is redacted once more on the way out, tool
inputs and tool results included.

Tool blocks are sent only with a request that defines tools (the API rejects ``tool_use`` or
``tool_result`` blocks otherwise); without tools they are dropped. With tools, every
``tool_use`` is answered by a ``tool_result`` in the very next user message, results first, ids
unique: an unpaired block (a prune or an interrupted turn can leave one) is dropped.
"""

from __future__ import annotations

import re
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


_TOOL_ID = re.compile(r"[a-zA-Z0-9_-]+")


def build_request(
    history: Sequence[HistoryEntry],
    *,
    max_tokens: int,
    output_schema: dict[str, Any] | None,
    cache_ttl: CacheTTL | None,
    redact: Redact,
    system_prompt: str | None,
    cache_history: bool = True,
    tools: Sequence[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | None = None,
) -> ModelRequest:
    """A request for ``history`` (whose last entry is the new user message).

    ``system_prompt`` leads the system blocks; the caller owns what the model is told, this
    module only how it is sent. ``tools`` keep tool turns in the messages; ``tool_choice``
    is sent with them only.
    """
    with_tools = bool(tools)
    extra_system, messages = to_api_messages(history, redact, with_tools=with_tools)
    texts = [system_prompt] if system_prompt else []
    texts.extend(extra_system)
    system = [{"type": "text", "text": text} for text in texts]
    tool_list = [dict(tool) for tool in tools or ()]
    place_breakpoints(system, messages, cache_ttl, history=cache_history, tools=tool_list)
    return ModelRequest(
        system=system,
        messages=messages,
        max_tokens=max_tokens,
        output_schema=output_schema,
        tools=tool_list or None,
        tool_choice=dict(tool_choice) if with_tools and tool_choice else None,
    )


def to_api_messages(
    history: Sequence[HistoryEntry], redact: Redact, *, with_tools: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, messages)``: meta stripped, roles merged and alternating."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for entry in history:
        role = entry.get("role")
        if role == "system":
            system.extend(redact(text) for text in _texts(entry.get("content")))
            continue
        if role not in _ROLES:
            continue
        blocks = _api_blocks(entry.get("content"), role, redact, with_tools=with_tools)
        if blocks:
            messages.append({"role": role, "content": blocks})
    messages = _merged(messages)
    if with_tools:
        messages = _paired(messages)
    if messages and messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": PRUNED_MARKER}]})
    return system, messages


def _api_blocks(
    content: Any, role: str, redact: Redact, *, with_tools: bool
) -> list[dict[str, Any]]:
    if not with_tools or not isinstance(content, list):
        return [{"type": "text", "text": redact(text)} for text in _texts(content)]
    blocks: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            block = {"type": "text", "text": block}
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = str(block.get("text", ""))
            if text.strip():
                blocks.append({"type": "text", "text": redact(text)})
        elif kind == "tool_use" and role == "assistant" and _valid_id(block.get("id")):
            blocks.append(_tool_use(block, redact))
        elif kind == "tool_result" and role == "user" and _valid_id(block.get("tool_use_id")):
            blocks.append(_tool_result(block, redact))
    return blocks


def _valid_id(value: Any) -> bool:
    """The API's id syntax; a block stored with another (a hand-edited session) is dropped,
    and its partner with it, rather than have the whole request rejected."""
    return isinstance(value, str) and _TOOL_ID.fullmatch(value) is not None


def _tool_use(block: dict[str, Any], redact: Redact) -> dict[str, Any]:
    raw = block.get("input")
    return {
        "type": "tool_use",
        "id": str(block.get("id", "")),
        "name": str(block.get("name", "")),
        "input": _redacted(raw, redact) if isinstance(raw, dict) else {},
    }


def _tool_result(block: dict[str, Any], redact: Redact) -> dict[str, Any]:
    texts = _texts(block.get("content"))
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": str(block.get("tool_use_id", "")),
        "content": redact("\n".join(texts)) if texts else "(no output)",
    }
    if block.get("is_error"):
        result["is_error"] = True
    return result


def _redacted(value: Any, redact: Redact) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive messages of one role in one; tool results lead a user message."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"].extend(message["content"])
            if message["role"] == "user":
                merged[-1]["content"].sort(key=lambda b: 0 if b["type"] == "tool_result" else 1)
        else:
            merged.append({"role": message["role"], "content": list(message["content"])})
    return merged


def _paired(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop tool blocks the API would reject: unanswered calls, orphan results, reused ids."""
    while True:
        seen: set[str] = set()
        fixed: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            previous = messages[index - 1] if index > 0 else None
            following = messages[index + 1] if index + 1 < len(messages) else None
            if message["role"] == "assistant":
                answered = _ids(following, "tool_result", "tool_use_id")
                keep = [
                    b
                    for b in message["content"]
                    if b["type"] != "tool_use" or (b["id"] in answered and b["id"] not in seen)
                ]
                seen.update(b["id"] for b in keep if b["type"] == "tool_use")
            else:
                asked = _ids(previous, "tool_use", "id")
                keep = [
                    b
                    for b in message["content"]
                    if b["type"] != "tool_result" or b["tool_use_id"] in asked
                ]
            if keep:
                fixed.append({"role": message["role"], "content": keep})
        fixed = _merged(fixed)
        if fixed == messages:
            return fixed
        messages = fixed


def _ids(message: dict[str, Any] | None, kind: str, key: str) -> set[str]:
    if message is None:
        return set()
    return {str(b[key]) for b in message["content"] if b.get("type") == kind}


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
