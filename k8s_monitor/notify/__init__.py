"""Telling people: Slack and webhook sinks, dedup, and the spool that loses nothing."""

from __future__ import annotations

from datetime import timedelta

from k8s_monitor.config import Settings
from k8s_monitor.notify.messages import Notification, NotificationContext
from k8s_monitor.notify.notifier import DispatchResult, Notifier
from k8s_monitor.notify.sinks import LogSink, Sink, slack_sink, webhook_sink
from k8s_monitor.retry import RetryPolicy

__all__ = [
    "DispatchResult",
    "Notification",
    "NotificationContext",
    "Notifier",
    "RetryPolicy",
    "Sink",
    "build_notifier",
]


def build_notifier(settings: Settings) -> Notifier:
    """A log sink always; Slack and the generic webhook when their URLs are set."""
    timeout = settings.notify_timeout_seconds
    sinks: list[Sink] = [LogSink()]
    if settings.slack_webhook_url is not None:
        sinks.append(slack_sink(settings.slack_webhook_url.get_secret_value(), timeout))
    if settings.webhook_url is not None:
        sinks.append(webhook_sink(settings.webhook_url.get_secret_value(), timeout))
    return Notifier(
        sinks,
        settings.spool_dir,
        cooldown=timedelta(minutes=settings.notify_cooldown_minutes),
    )
