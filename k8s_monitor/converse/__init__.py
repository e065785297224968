"""The converse stage: one cycle's deterministic results in, the model's analysis out.

Joins the model layer (``llm``) and the session layer (``sessions``) in one of two strategies,
chosen by ``ENABLE_LONG_CONTEXT``: a persistent conversation saved in the session, or stateless
cycles. The analysis is always present: from the model, or built deterministically when no model
is configured (``offline``) or the call failed (``fallback``).

- ``prompts``: the versioned, byte-stable system prompt.
- ``context``: what one cycle hands the conversation (``CycleContext``).
- ``render``: the cycle message (delta / full / stateless) within a token budget.
- ``answer``: the structured answer (``CycleAnalysis``), its JSON schema and parsing.
- ``offline``: the deterministic analysis (offline mode and fallback).
- ``engine``: one validated answer from the provider (repair, context-too-long retry).
- ``investigation``: the tool loop for new or worsened urgent incidents, its limits, root causes.
- ``ask``: a person's question (``k8s-monitor ask``), answered with the same tools and limits.
- ``conversation``: the stateless and persistent strategies; ``factory`` builds the configured one.
"""

from k8s_monitor.converse.answer import AnalysisSource, CycleAnalysis
from k8s_monitor.converse.conversation import PersistentConversation, StatelessConversation
from k8s_monitor.converse.factory import ComparingConversation, Conversation, build_conversation
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome

__all__ = [
    "AnalysisSource",
    "ComparingConversation",
    "Conversation",
    "ConverseInput",
    "ConverseOutcome",
    "CycleAnalysis",
    "PersistentConversation",
    "StatelessConversation",
    "build_conversation",
]
