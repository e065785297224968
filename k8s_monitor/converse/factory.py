"""Building the conversation the settings ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from k8s_monitor.config import Settings
from k8s_monitor.converse.conversation import PersistentConversation, StatelessConversation
from k8s_monitor.converse.engine import Asker
from k8s_monitor.converse.investigation import Investigator, Limits
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome
from k8s_monitor.converse.store import SessionStore
from k8s_monitor.errors import MonitorError
from k8s_monitor.investigate.tools import Toolbox
from k8s_monitor.llm.accounting import price_table_for
from k8s_monitor.llm.cache import cache_ttl_for_interval
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import build_provider, count_fn_for
from k8s_monitor.llm.wire import memo_size_for, memoized
from k8s_monitor.redaction import Redactor, guarded
from k8s_monitor.sessions.tokens import TokenCounter

log = structlog.get_logger(__name__)


class Conversation(Protocol):
    mode: str

    def converse(self, data: ConverseInput) -> ConverseOutcome: ...

    def close(self) -> None: ...


def build_conversation(
    settings: Settings,
    session_manager: SessionStore,
    *,
    provider: ModelProvider | None = None,
    redactor: Redactor | None = None,
    redact: Callable[[str], str] | None = None,
    persistent: bool | None = None,
    offline: bool = False,
    toolbox: Toolbox | None = None,
) -> Conversation:
    """Persistent or stateless by ``ENABLE_LONG_CONTEXT``; provider by ``LLM_PROVIDER``.

    ``provider`` replaces the configured one (tests, comparisons sharing one client) and
    ``offline`` forces none; ``redact`` replaces the redactor (shared across conversations);
    ``persistent`` overrides the mode; ``toolbox`` gives the model its read-only tools
    (``INVESTIGATE``). ``COMPARE_MODES=true`` (and no override) runs the other
    mode too, every cycle, as a shadow: its answer is logged next to the primary's and its
    tokens are added to the cycle's usage (it doubles the model cost).
    """
    if redact is None:
        redact = memoized(
            guarded("model_request", redactor or Redactor.from_settings(settings)),
            max_chars=memo_size_for(settings.max_context_tokens),
        )
    if provider is None and not offline:
        provider = build_provider(settings)
    use_persistent = settings.enable_long_context if persistent is None else persistent
    investigator = (
        Investigator(toolbox, Limits.from_settings(settings))
        if toolbox is not None and settings.investigate
        else None
    )
    primary = _single(
        settings, session_manager, provider, redact, persistent=use_persistent, tools=investigator
    )
    if persistent is None and settings.compare_modes:
        shadow = _single(
            settings,
            session_manager,
            provider,
            redact,
            persistent=not use_persistent,
            tools=investigator,
        )
        return ComparingConversation(primary, shadow)
    return primary


def _single(
    settings: Settings,
    session_manager: SessionStore,
    provider: ModelProvider | None,
    redact: Callable[[str], str],
    *,
    persistent: bool,
    tools: Investigator | None = None,
) -> PersistentConversation | StatelessConversation:
    # Persistent mode shares the session's counter: one calibration, persisted with the session.
    estimator = session_manager.token_counter if persistent else TokenCounter()
    asker = None
    if provider is not None:
        asker = Asker(
            provider,
            prices=price_table_for(settings),
            redact=redact,
            max_output_tokens=settings.llm_max_output_tokens,
            cache_ttl=cache_ttl_for_interval(settings.monitoring_interval_minutes),
            estimator=estimator,
            max_context_tokens=settings.max_context_tokens,
        )
    if persistent:
        if provider is not None and session_manager.token_counter.count_fn is None:
            session_manager.token_counter.count_fn = count_fn_for(provider, redact)
        return PersistentConversation(
            settings,
            asker,
            session_manager,
            redact=redact,
            estimator=estimator,
            investigator=tools,
        )
    return StatelessConversation(
        settings, asker, redact=redact, estimator=estimator, investigator=tools
    )


class ComparingConversation:
    """``COMPARE_MODES``: the primary answers; the other mode runs alongside for comparison."""

    def __init__(self, primary: Conversation, shadow: Conversation) -> None:
        self.primary = primary
        self.shadow = shadow
        self.mode = primary.mode

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        outcome = self.primary.converse(data)
        try:
            other = self.shadow.converse(data)
        except MonitorError as exc:
            # The shadow must never cost the primary its cycle: log, count in the outcome.
            log.error("compare_shadow_failed", error_type=type(exc).__name__, error=str(exc))
            return outcome
        log.info(
            "compare_modes",
            cycle=data.cycle,
            primary=self.primary.mode,
            primary_source=outcome.source.value,
            primary_billed=outcome.usage.billed_equivalent_tokens,
            primary_context=outcome.context_tokens,
            shadow=self.shadow.mode,
            shadow_source=other.source.value,
            shadow_billed=other.usage.billed_equivalent_tokens,
            shadow_context=other.context_tokens,
            same_health=other.analysis.overall_health == outcome.analysis.overall_health,
        )
        outcome.usage = outcome.usage + other.usage
        return outcome

    def close(self) -> None:
        self.primary.close()
        self.shadow.close()
