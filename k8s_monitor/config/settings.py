"""``Settings``: every section in one class, read from the environment and an optional ``.env``.

Each section module declares its fields and their checks; attribute access stays flat
(``settings.session_id``). Checks spanning sections, and values derived from several, live here.
"""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from k8s_monitor.config.alerting import AlertingSection
from k8s_monitor.config.analysis import AnalysisSection
from k8s_monitor.config.cluster import ClusterSection
from k8s_monitor.config.investigation import InvestigationSection
from k8s_monitor.config.model import LLMProvider, ModelSection
from k8s_monitor.config.notification import NotificationSection
from k8s_monitor.config.output import OutputSection
from k8s_monitor.config.scheduling import SchedulingSection
from k8s_monitor.config.session import SessionSection


# pydantic collects fields from the last base to the first: this order keeps the declaration
# order (session first, investigation last), which decides which error a bad environment
# reports first.
class Settings(
    InvestigationSection,
    ModelSection,
    AlertingSection,
    NotificationSection,
    AnalysisSection,
    ClusterSection,
    OutputSection,
    SchedulingSection,
    SessionSection,
    BaseSettings,
):
    """Runtime configuration, read from the environment and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        defer_build=False,  # the sections defer theirs
    )

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.llm_provider is LLMProvider.ANTHROPIC and self.anthropic_api_key is None:
            raise ValueError("LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        if (self.alertmanager_username is None) != (self.alertmanager_password_file is None):
            raise ValueError(
                "ALERTMANAGER_USERNAME and ALERTMANAGER_PASSWORD_FILE go together (basic auth)"
            )
        if self.alertmanager_username is not None and self.alertmanager_bearer_token_file:
            raise ValueError(
                "set either ALERTMANAGER_BEARER_TOKEN_FILE or basic auth "
                "(ALERTMANAGER_USERNAME, ALERTMANAGER_PASSWORD_FILE), not both"
            )
        return self

    @property
    def investigate_deadline(self) -> float:
        """Seconds an investigation may take: the setting, and never past half the interval."""
        return min(self.investigate_deadline_seconds, self.monitoring_interval_minutes * 30.0)
