"""The converse stage: one cycle's deterministic results in, the model's analysis out.

Joins the model layer (``llm``) and the session layer (``sessions``) in one of two strategies,
chosen by ``ENABLE_LONG_CONTEXT``: a persistent conversation saved in the session, or stateless
cycles. The analysis is always present: from the model, or built deterministically when no model
is configured (``offline``) or the call failed (``fallback``).
"""

from k8s_monitor.converse.conversation import PersistentConversation, StatelessConversation
from k8s_monitor.converse.factory import ComparingConversation, Conversation, build_conversation
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome
from k8s_monitor.llm.analysis import AnalysisSource, CycleAnalysis

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
