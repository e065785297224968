"""Analysis: the services file and when an incident counts as resolved."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from k8s_monitor.config.checks import readable_file_or_none
from k8s_monitor.config.section import Section


class AnalysisSection(Section):
    services_file: Path | None = None
    resolve_after_cycles: int = Field(1, ge=1, le=1_000)

    @field_validator("services_file")
    @classmethod
    def _services_file_readable(cls, value: Path | None) -> Path | None:
        return readable_file_or_none(value)
