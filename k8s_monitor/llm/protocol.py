"""The provider seam: one request shape in, one reply shape out, whatever the backend."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from k8s_monitor.report import ModelUsage


@dataclass(frozen=True)
class ModelRequest:
    """A Messages API request as plain JSON-ready data (system blocks, messages, schema).

    ``tools`` are tool definitions (``name``, ``description``, ``input_schema``) and
    ``tool_choice`` the API's choice object (``{"type": "auto"}``, ``{"type": "none"}``);
    both are sent only when set.
    """

    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    max_tokens: int
    output_schema: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None

    def text_chars(self) -> int:
        """Characters of text in the request; the raw input of the chars/4 estimate."""
        total = sum(len(block.get("text", "")) for block in self.system)
        total += sum(len(json.dumps(tool)) for tool in self.tools or ())
        for message in self.messages:
            content = message["content"]
            if isinstance(content, str):
                total += len(content)
            else:
                total += sum(block_chars(block) for block in content)
        return total


def block_chars(block: Any) -> int:
    """Characters of one content block that carry tokens (text, tool input, tool output)."""
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return len(str(block.get("text", "")))
    if kind == "tool_use":
        return len(str(block.get("name", ""))) + len(json.dumps(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return len(content)
        if isinstance(content, list):
            return sum(block_chars(item) for item in content)
    return 0


@dataclass(frozen=True)
class ModelReply:
    text: str
    usage: ModelUsage
    model: str
    stop_reason: str | None = None
    request_id: str | None = None
    latency_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # The reply's content blocks as plain data: text and tool_use (id, name, input).
    content: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]

    @property
    def prompt_tokens(self) -> int:
        """Every input token the request carried, cached or not: the context it used."""
        u = self.usage
        return (
            u.input_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens + u.cache_read_tokens
        )


class ModelProvider(Protocol):
    """A backend that answers ``ModelRequest``s. Raises only ``k8s_monitor.errors.Model*``."""

    name: str
    model: str
    context_window: int  # tokens the model accepts, prompt and answer together

    def complete(self, request: ModelRequest) -> ModelReply: ...

    def count_tokens(self, request: ModelRequest) -> int | None:
        """Exact input tokens, or ``None`` when the backend cannot count."""
        ...

    def close(self) -> None: ...
