"""Scheduling: how often a cycle runs, jitter, misfires and the shutdown deadline."""

from __future__ import annotations

from pydantic import Field

from k8s_monitor.config.section import Section


class SchedulingSection(Section):
    monitoring_interval_minutes: float = Field(15.0, gt=0.0, le=24 * 60)
    scheduler_jitter_seconds: float = Field(0.0, ge=0.0)
    misfire_grace_seconds: float = Field(60.0, gt=0.0)
    shutdown_deadline_seconds: float = Field(25.0, gt=0.0, le=600.0)

    @property
    def interval_seconds(self) -> float:
        return self.monitoring_interval_minutes * 60.0
