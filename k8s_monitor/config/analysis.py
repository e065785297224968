"""Analysis: the services file and when an incident counts as resolved."""

from __future__ import annotations

from pydantic import Field

from k8s_monitor.config.checks import ReadableFile
from k8s_monitor.config.section import Section


class AnalysisSection(Section):
    services_file: ReadableFile | None = None
    resolve_after_cycles: int = Field(1, ge=1, le=1_000)
