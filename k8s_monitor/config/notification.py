"""Notification: Slack and the generic webhook, their cooldown and timeout."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from k8s_monitor.config.checks import http_secret_url_or_none
from k8s_monitor.config.section import Section


class NotificationSection(Section):
    notify_cooldown_minutes: float = Field(60.0, ge=0.0)
    slack_webhook_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    notify_timeout_seconds: float = Field(10.0, gt=0.0, le=120.0)

    @field_validator("slack_webhook_url", "webhook_url")
    @classmethod
    def _webhook_urls(cls, value: SecretStr | None) -> SecretStr | None:
        return http_secret_url_or_none(value)
