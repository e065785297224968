"""Investigation: the budget of the model's read-only tools per cycle."""

from __future__ import annotations

from pydantic import Field

from k8s_monitor.config.section import Section


class InvestigationSection(Section):
    investigate: bool = True
    investigate_max_incidents: int = Field(3, ge=0, le=20)
    investigate_max_tool_calls: int = Field(8, ge=1, le=50)
    investigate_max_tokens: int = Field(40_000, ge=2_000, le=1_000_000)
    investigate_deadline_seconds: float = Field(120.0, gt=0.0, le=3_600.0)
    tool_output_max_tokens: int = Field(4_000, ge=200, le=50_000)
