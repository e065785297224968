"""Helpers over history entries: ``{"role", "content", "meta"?}`` with string or block content.

Content follows the Messages API: a string, or a list of blocks (``text``, ``tool_use``,
``tool_result``, images, ...). ``meta`` is ours (cycle number, fingerprints, kind) and is never
sent to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

Message = dict[str, Any]
ROLES = frozenset({"system", "user", "assistant"})

KIND_COMPACTION = "compaction"
KIND_COMPACTION_ACK = "compaction_ack"


def content_chars(content: Any) -> int:
    """Characters that carry tokens in a message's content."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(_block_chars(block) for block in content)
    return 0


def _block_chars(block: Any) -> int:
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return len(text) if isinstance(text, str) else 0
    if kind == "tool_result":
        return content_chars(block.get("content"))
    if kind == "tool_use":
        return len(str(block.get("name", ""))) + len(orjson.dumps(block.get("input", {})))
    # Images, documents and future block types: their JSON size is a safe over-estimate.
    return len(orjson.dumps(block, default=str))


def content_text(content: Any) -> str:
    """The human-readable text of a content value (for keyword matching and summaries)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            parts.append(content_text(block.get("content")))
    return "\n".join(parts)


def is_empty(content: Any) -> bool:
    """True when the API would reject the content as empty."""
    if isinstance(content, str):
        return not content.strip()
    if isinstance(content, list):
        return all(_block_is_empty(block) for block in content)
    return True


def _block_is_empty(block: Any) -> bool:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return True
    if block["type"] == "text":
        text = block.get("text")
        return not isinstance(text, str) or not text.strip()
    return False


def as_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    if isinstance(content, list):
        return list(content)
    return []


def tool_use_ids(message: Mapping[str, Any]) -> list[str]:
    return _block_ids(message.get("content"), "tool_use", "id")


def tool_result_ids(message: Mapping[str, Any]) -> list[str]:
    return _block_ids(message.get("content"), "tool_result", "tool_use_id")


def _block_ids(content: Any, kind: str, key: str) -> list[str]:
    if not isinstance(content, list):
        return []
    return [
        str(block.get(key))
        for block in content
        if isinstance(block, dict) and block.get("type") == kind
    ]


def meta_of(message: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = message.get("meta")
    return meta if isinstance(meta, dict) else {}


def kind_of(message: Mapping[str, Any]) -> str | None:
    kind = meta_of(message).get("kind")
    return kind if isinstance(kind, str) else None
