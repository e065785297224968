"""Notification: Slack and the generic webhook, their cooldown and timeout."""

from __future__ import annotations

from pydantic import Field

from k8s_monitor.config.checks import HttpSecretUrl
from k8s_monitor.config.section import Section


class NotificationSection(Section):
    notify_cooldown_minutes: float = Field(60.0, ge=0.0)
    slack_webhook_url: HttpSecretUrl | None = None
    webhook_url: HttpSecretUrl | None = None
    notify_timeout_seconds: float = Field(10.0, gt=0.0, le=120.0)
