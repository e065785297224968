"""Asking the model for one cycle's analysis: request, validation, one repair, accounting.

Shared by both modes. Failures surface as ``k8s_monitor.errors.Model*``; the caller decides
what they mean for the session. A fatal error (spend limit, auth) disables the provider for the
rest of the process: every later cycle gets the deterministic analysis without a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from k8s_monitor.converse.answer import ANALYSIS_SCHEMA, CycleAnalysis, parse_analysis
from k8s_monitor.converse.investigation import TOOL_CHOICE_NONE, Stats, ToolRun
from k8s_monitor.converse.prompts import SYSTEM_PROMPT
from k8s_monitor.errors import (
    ContextTooLongError,
    ModelAnswerError,
    ModelError,
    ModelFatalError,
    ModelRequestError,
)
from k8s_monitor.llm.accounting import PriceTable
from k8s_monitor.llm.cache import CacheTTL
from k8s_monitor.llm.protocol import ModelProvider, ModelReply, ModelRequest
from k8s_monitor.llm.wire import build_request
from k8s_monitor.redaction import Redact
from k8s_monitor.report import ModelUsage
from k8s_monitor.sessions.tokens import TokenCounter

log = structlog.get_logger(__name__)


REPAIR_PROMPT = (
    "Your previous reply could not be used: {problem}. Reply again with only the JSON object "
    "that matches the response schema, nothing else."
)
_EMPTY_REPLY = "(empty reply)"


@dataclass
class Answer:
    analysis: CycleAnalysis
    text: str  # the assistant turn to store: the model's output exactly as returned
    reply: ModelReply
    request: ModelRequest
    repaired: bool = False
    # The investigation's tool_use / tool_result turns, in order, to store before the answer.
    tool_turns: list[dict[str, Any]] = field(default_factory=list)
    investigation: Stats | None = None


@dataclass
class Meter:
    """Usage of every request made for one cycle, failed attempts included."""

    usage: ModelUsage = field(default_factory=ModelUsage)
    latency_seconds: float = 0.0
    request_id: str | None = None

    def add(self, reply: ModelReply, priced: ModelUsage) -> None:
        self.usage = self.usage + priced
        self.latency_seconds += reply.latency_seconds
        self.request_id = reply.request_id


class Asker:
    def __init__(
        self,
        provider: ModelProvider,
        *,
        prices: PriceTable,
        redact: Redact,
        max_output_tokens: int,
        cache_ttl: CacheTTL | None,
        estimator: TokenCounter,
        max_context_tokens: int,
    ) -> None:
        self.provider = provider
        self.max_context_tokens = max_context_tokens
        self.prices = prices
        self.redact = redact
        self.max_output_tokens = max_output_tokens
        self.cache_ttl = cache_ttl
        self.estimator = estimator
        self.disabled_reason: str | None = None

    @property
    def context_window(self) -> int:
        return self.provider.context_window

    def request_for(
        self,
        history: Sequence[dict[str, Any]],
        *,
        cache: bool,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: dict[str, Any] | None = None,
    ) -> ModelRequest:
        """``cache=False`` still caches the system prompt (and tools), never the messages."""
        return build_request(
            history,
            max_tokens=self.max_output_tokens,
            output_schema=ANALYSIS_SCHEMA,
            cache_ttl=self.cache_ttl,
            redact=self.redact,
            system_prompt=SYSTEM_PROMPT,
            cache_history=cache,
            tools=tools,
            tool_choice=tool_choice,
        )

    def complete(self, request: ModelRequest, meter: Meter) -> ModelReply:
        return self._complete(request, meter)

    def ask(
        self,
        history: Sequence[dict[str, Any]],
        *,
        known: set[str],
        meter: Meter,
        cache_history: bool,
        tools: ToolRun | None = None,
    ) -> Answer:
        """One validated answer for ``history`` (ending with the new user message).

        With ``tools`` the tools are offered (when the plan has targets) and the loop runs
        first; the tool turns come back in ``Answer.tool_turns``.
        """
        turns: list[dict[str, Any]] = []
        stats: Stats | None = None
        specs: list[dict[str, Any]] | None = None
        if tools is None:
            request = self.request_for(history, cache=cache_history)
            reply = self._complete(request, meter)
        else:
            specs = tools.investigator.specs
            turns, reply, stats = tools.investigator.loop(
                self,
                history,
                plan=tools.plan,
                view=tools.view,
                meter=meter,
                cache_history=cache_history,
                cycle=tools.cycle,
            )
            request = self.request_for([*history, *turns], cache=cache_history, tools=specs)
        repaired = False
        try:
            analysis = self._validated(reply)
        except ModelAnswerError as first:
            log.warning("model_answer_invalid", error=str(first), attempt=1)
            repair = [
                *history,
                *turns,
                {"role": "assistant", "content": reply.text.strip() or _EMPTY_REPLY},
                {"role": "user", "content": REPAIR_PROMPT.format(problem=first)},
            ]
            choice = TOOL_CHOICE_NONE if specs else None
            reply = self._complete(
                self.request_for(repair, cache=False, tools=specs, tool_choice=choice), meter
            )
            analysis = self._validated(reply)
            repaired = True
        return Answer(
            analysis.restricted_to(known),
            reply.text,
            reply,
            request,
            repaired,
            tool_turns=turns,
            investigation=stats,
        )

    def _complete(self, request: ModelRequest, meter: Meter) -> ModelReply:
        if self.disabled_reason is not None:
            raise ModelFatalError(f"provider disabled until restart: {self.disabled_reason}")
        try:
            reply = self.provider.complete(request)
        except ModelFatalError as exc:
            self.disabled_reason = str(exc)
            log.error(
                "model_provider_disabled",
                provider=self.provider.name,
                error_type=type(exc).__name__,
                request_id=exc.request_id,
                reason=str(exc),
            )
            raise
        except ModelRequestError as exc:
            self._log_failure(exc)
            if not isinstance(exc, ContextTooLongError) and self._overflows(request):
                raise ContextTooLongError(
                    f"prompt exceeds the context window ({exc})", request_id=exc.request_id
                ) from exc
            raise
        except ModelError as exc:
            self._log_failure(exc)
            raise
        meter.add(reply, self.prices.priced(reply.usage, reply.model))
        self._calibrate(request, reply)
        return reply

    def context_limit(self, max_context_tokens: int) -> int:
        return min(self.context_window, max_context_tokens)

    def _overflows(self, request: ModelRequest) -> bool:
        """Whether a rejected request was too long.

        The API says so only in its message text, which we do not parse: count the prompt
        (free) or, where counting is unavailable, estimate it.
        """
        tokens = self.provider.count_tokens(request)
        if tokens is None:
            tokens = self.estimator.text_tokens(request.text_chars())
        return tokens > self.context_limit(self.max_context_tokens)

    def _log_failure(self, exc: ModelError) -> None:
        log.warning(
            "model_call_failed",
            provider=self.provider.name,
            error_type=type(exc).__name__,
            request_id=exc.request_id,
            reason=str(exc),
        )

    def _calibrate(self, request: ModelRequest, reply: ModelReply) -> None:
        # Exact usage for exactly what was sent: the one counter pruning and budgets share.
        sent = [{"content": request.system}, *request.messages]
        self.estimator.calibrate(sent, reply.prompt_tokens)

    @staticmethod
    def _validated(reply: ModelReply) -> CycleAnalysis:
        if reply.stop_reason == "model_context_window_exceeded":
            raise ContextTooLongError(
                "the answer hit the context window", request_id=reply.request_id
            )
        if reply.stop_reason == "refusal":
            raise ModelAnswerError("the model declined to answer", request_id=reply.request_id)
        return parse_analysis(reply.text)


def describe(exc: BaseException) -> str:
    """``"<ErrorType>: reason"``, the form reports and logs carry."""
    return f"{type(exc).__name__}: {exc}"
