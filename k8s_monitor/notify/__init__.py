"""Telling people: Alertmanager, Slack and webhook sinks, dedup, silences, the spool, heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from k8s_monitor.config import Settings
from k8s_monitor.notify.alertmanager import AlertmanagerSink, SilenceOracle, peers_from
from k8s_monitor.notify.alerts import ENDS_AFTER_INTERVALS, AlertOptions
from k8s_monitor.notify.heartbeat import Heartbeat
from k8s_monitor.notify.messages import Notification, NotificationContext
from k8s_monitor.notify.notifier import DispatchResult, Notifier
from k8s_monitor.notify.sinks import LogSink, Sink, slack_sink, webhook_sink
from k8s_monitor.retry import RetryPolicy

__all__ = [
    "DispatchResult",
    "Heartbeat",
    "Notification",
    "NotificationContext",
    "Notifier",
    "RetryPolicy",
    "Sink",
    "build_heartbeat",
    "build_notifier",
]


def alert_options(settings: Settings) -> AlertOptions:
    return AlertOptions(
        cluster=settings.cluster_name,
        ttl=timedelta(seconds=ENDS_AFTER_INTERVALS * settings.interval_seconds),
        generator_url=settings.alertmanager_generator_url or "",
    )


def build_notifier(settings: Settings) -> Notifier:
    """A log sink always; Slack, the generic webhook and Alertmanager peers when set."""
    timeout = settings.notify_timeout_seconds
    sinks: list[Sink] = [LogSink()]
    if settings.slack_webhook_url is not None:
        sinks.append(slack_sink(settings.slack_webhook_url.get_secret_value(), timeout))
    if settings.webhook_url is not None:
        sinks.append(webhook_sink(settings.webhook_url.get_secret_value(), timeout))
    peers = peers_from(settings)
    sinks.extend(AlertmanagerSink(peer) for peer in peers)
    return Notifier(
        sinks,
        settings.spool_dir,
        cooldown=timedelta(minutes=settings.notify_cooldown_minutes),
        alert_options=alert_options(settings),
        silences=SilenceOracle(peers, settings.cluster_name) if peers else None,
    )


def build_heartbeat(
    settings: Settings, on_error: Callable[[str], None] | None = None
) -> Heartbeat | None:
    """The heartbeat URL and the Watchdog alert; None when neither is configured."""
    peers = peers_from(settings)
    url = settings.heartbeat_url.get_secret_value() if settings.heartbeat_url else None
    if url is None and not peers:
        return None
    return Heartbeat(url, peers, alert_options(settings), on_error=on_error)
