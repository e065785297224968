"""Logs, cycle reports and the HTTP server (metrics and health)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field

from k8s_monitor.config.checks import WritableDirectory
from k8s_monitor.config.section import Section


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class OutputSection(Section):
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.AUTO
    report_dir: WritableDirectory = Path("reports")
    report_retention: int = Field(200, ge=1, description="cycle reports kept on disk")
    metrics_port: int = Field(8080, ge=0, le=65535, description="0 disables the HTTP server")
    metrics_host: str = "0.0.0.0"  # noqa: S104 - the pod's probes and Prometheus reach it
