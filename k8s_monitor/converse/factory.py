"""Building the conversation the settings ask for."""

from __future__ import annotations

from typing import Protocol

from k8s_monitor.config import Settings
from k8s_monitor.converse.conversation import PersistentConversation, StatelessConversation
from k8s_monitor.converse.engine import Asker
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome
from k8s_monitor.converse.store import SessionStore
from k8s_monitor.llm.accounting import load_price_table
from k8s_monitor.llm.cache import cache_ttl_for_interval
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import build_provider, count_fn_for
from k8s_monitor.llm.tokens import TokenEstimator
from k8s_monitor.redaction import Redactor


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
    persistent: bool | None = None,
) -> PersistentConversation | StatelessConversation:
    """Persistent or stateless by ``ENABLE_LONG_CONTEXT``; provider by ``LLM_PROVIDER``.

    ``provider`` replaces the configured one (tests, comparisons sharing one client);
    ``persistent`` overrides the mode (comparison runs both).
    """
    redact = (redactor or Redactor.from_settings(settings)).redact
    if provider is None:
        provider = build_provider(settings)
    estimator = TokenEstimator()
    asker = None
    if provider is not None:
        asker = Asker(
            provider,
            prices=load_price_table(),
            redact=redact,
            max_output_tokens=settings.llm_max_output_tokens,
            cache_ttl=cache_ttl_for_interval(settings.monitoring_interval_minutes),
            estimator=estimator,
            max_context_tokens=settings.max_context_tokens,
        )
    use_persistent = settings.enable_long_context if persistent is None else persistent
    if use_persistent:
        if provider is not None and session_manager.token_counter.count_fn is None:
            session_manager.token_counter.count_fn = count_fn_for(provider, redact)
        return PersistentConversation(
            settings, asker, session_manager, redact=redact, estimator=estimator
        )
    return StatelessConversation(settings, asker, redact=redact, estimator=estimator)
