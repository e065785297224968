"""What the converse stage returns to the cycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from k8s_monitor.analysis.incidents import RootCause
from k8s_monitor.converse.answer import AnalysisSource, CycleAnalysis
from k8s_monitor.converse.context import CycleContext
from k8s_monitor.report import InvestigationRecord, ModelUsage

ConverseInput = CycleContext


@dataclass
class ConverseOutcome:
    """One cycle's analysis (always present) and what obtaining it cost."""

    analysis: CycleAnalysis
    source: AnalysisSource
    mode: str  # "persistent" | "stateless"
    usage: ModelUsage = field(default_factory=ModelUsage)
    error: str | None = None  # "<ErrorType>: reason" when the model failed this cycle
    alert: str | None = None  # set once, on the cycle the provider was disabled
    context_tokens: int = 0
    context_ratio: float = 0.0
    pruned: bool = False
    session_saved: bool = False
    request_id: str | None = None
    latency_seconds: float = 0.0
    model: str | None = None
    # Root causes the model found this cycle (by fingerprint), and what its tool loop did.
    root_causes: dict[str, RootCause] = field(default_factory=dict)
    investigation: InvestigationRecord | None = None
