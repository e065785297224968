"""The provider seam: one request shape in, one reply shape out, whatever the backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from k8s_monitor.report import ModelUsage


@dataclass(frozen=True)
class ModelRequest:
    """A Messages API request as plain JSON-ready data (system blocks, messages, schema)."""

    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    max_tokens: int
    output_schema: dict[str, Any] | None = None

    def text_chars(self) -> int:
        """Characters of text in the request; the raw input of the chars/4 estimate."""
        total = sum(len(block.get("text", "")) for block in self.system)
        for message in self.messages:
            content = message["content"]
            if isinstance(content, str):
                total += len(content)
            else:
                total += sum(len(block.get("text", "")) for block in content)
        return total


@dataclass(frozen=True)
class ModelReply:
    text: str
    usage: ModelUsage
    model: str
    stop_reason: str | None = None
    request_id: str | None = None
    latency_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

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
