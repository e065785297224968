"""The structured answer of one cycle: what the model (or the deterministic fallback) concluded.

The JSON schema sent to the API is written out by hand rather than generated, so that it is
byte-stable across pydantic releases (it is part of the request every cycle) and stays inside
what structured outputs accept: objects with ``additionalProperties: false``, every property
required, enums, arrays; no string-length or numeric bounds. Those bounds are enforced here,
after the answer arrives.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from k8s_monitor.errors import ModelAnswerError

SeverityLevel = Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
SEVERITY_LEVELS: tuple[str, ...] = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")

_MAX_SUMMARY = 4_000
_MAX_ACTIONS = 10
_MAX_ACTION = 500
_MAX_ROOT_CAUSE = 1_500
_MAX_QUOTE = 600
_MAX_QUOTES = 6


def _text(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: value.strip()[:limit])


def _lines(limit: int, count: int) -> AfterValidator:
    """Blank items dropped, each item cut to ``limit``, at most ``count`` items."""
    return AfterValidator(lambda values: [v.strip()[:limit] for v in values if v.strip()][:count])


# The schema sent to the API has no bounds (see above): they are enforced here instead.
Summary = Annotated[str, _text(_MAX_SUMMARY)]
Actions = Annotated[list[str], _lines(_MAX_ACTION, _MAX_ACTIONS)]


class ClusterHealth(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    CRITICAL = "critical"


class AnalysisSource(StrEnum):
    MODEL = "model"  # the model answered and the answer validated
    OFFLINE = "offline"  # no model configured: built from the deterministic analysis
    FALLBACK = "fallback"  # the model failed this cycle: built deterministically instead
    QUIET = "quiet"  # LLM_CALL_POLICY=on-change and nothing changed: not asked this cycle


class EscalationSuggestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str
    severity: SeverityLevel
    reason: str = ""


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RootCauseAnswer(BaseModel):
    """Why an incident happened, with the evidence it rests on (quoted from tool results)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: Annotated[str, _text(_MAX_ROOT_CAUSE)]
    evidence: Annotated[list[str], _lines(_MAX_QUOTE, _MAX_QUOTES)] = Field(default_factory=list)
    confidence: Confidence = Confidence.MEDIUM


class Investigation(BaseModel):
    """One incident's investigation: root cause and next steps for a person (never run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str
    root_cause: RootCauseAnswer
    next_steps: Actions = Field(default_factory=list)


class CycleAnalysis(BaseModel):
    """The analysis every later stage reads; always present, whoever produced it."""

    model_config = ConfigDict(extra="forbid")

    overall_health: ClusterHealth
    summary: Summary
    new_fingerprints: list[str] = Field(default_factory=list)
    recurring_fingerprints: list[str] = Field(default_factory=list)
    resolved_fingerprints: list[str] = Field(default_factory=list)
    escalations: list[EscalationSuggestion] = Field(default_factory=list)
    recommended_actions: Actions = Field(default_factory=list)
    investigations: list[Investigation] = Field(default_factory=list)

    @property
    def suggested_escalation(self) -> dict[str, str]:
        """``{fingerprint: "SEV-n"}``; the most severe suggestion wins on duplicates."""
        result: dict[str, str] = {}
        for item in self.escalations:
            current = result.get(item.fingerprint)
            if current is None or item.severity < current:  # "SEV-1" sorts before "SEV-2"
                result[item.fingerprint] = item.severity
        return result

    def restricted_to(self, known: set[str]) -> CycleAnalysis:
        """Drop fingerprints the ledger does not know: the model may not invent incidents."""
        return self.model_copy(
            update={
                "new_fingerprints": [f for f in self.new_fingerprints if f in known],
                "recurring_fingerprints": [f for f in self.recurring_fingerprints if f in known],
                "resolved_fingerprints": [f for f in self.resolved_fingerprints if f in known],
                "escalations": [e for e in self.escalations if e.fingerprint in known],
                "investigations": [i for i in self.investigations if i.fingerprint in known],
            }
        )


def _string_list(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "overall_health",
        "summary",
        "new_fingerprints",
        "recurring_fingerprints",
        "resolved_fingerprints",
        "escalations",
        "recommended_actions",
        "investigations",
    ],
    "properties": {
        "overall_health": {"type": "string", "enum": [h.value for h in ClusterHealth]},
        "summary": {"type": "string", "description": "A few sentences for the on-call engineer."},
        "new_fingerprints": _string_list("Fingerprints of incidents new this cycle."),
        "recurring_fingerprints": _string_list("Fingerprints of incidents seen before."),
        "resolved_fingerprints": _string_list("Fingerprints of incidents now resolved."),
        "escalations": {
            "type": "array",
            "description": "Suggested severity per incident fingerprint.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["fingerprint", "severity", "reason"],
                "properties": {
                    "fingerprint": {"type": "string"},
                    "severity": {"type": "string", "enum": list(SEVERITY_LEVELS)},
                    "reason": {"type": "string"},
                },
            },
        },
        "recommended_actions": _string_list("Concrete next steps, most urgent first."),
        "investigations": {
            "type": "array",
            "description": "Per investigated incident: its root cause and next steps.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["fingerprint", "root_cause", "next_steps"],
                "properties": {
                    "fingerprint": {"type": "string"},
                    "root_cause": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["summary", "evidence", "confidence"],
                        "properties": {
                            "summary": {"type": "string"},
                            "evidence": _string_list(
                                "Quotes from tool results that support the summary."
                            ),
                            "confidence": {
                                "type": "string",
                                "enum": [c.value for c in Confidence],
                            },
                        },
                    },
                    "next_steps": _string_list(
                        "Commands for a person to run (read-only first); never run by the monitor."
                    ),
                },
            },
        },
    },
}


def parse_analysis(text: str) -> CycleAnalysis:
    """Validate the model's JSON answer; ``ModelAnswerError`` says what was wrong."""
    candidate = _strip_code_fence(text)
    try:
        return CycleAnalysis.model_validate_json(candidate)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}"
            for err in exc.errors(include_url=False)[:5]
        )
        raise ModelAnswerError(f"answer does not match the schema: {problems}") from exc


def _strip_code_fence(text: str) -> str:
    # Structured outputs return bare JSON; a fence only appears from providers or models that
    # ignore output_config, and costs nothing to tolerate.
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.removesuffix("```").strip()
    return stripped
