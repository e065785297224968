"""Where notifications go: a log sink (always), Slack and a generic JSON webhook.

Webhook URLs are secrets (Slack's carries its token in the path): they are held here, used for
the request, and never logged, printed or put into an error message.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Protocol

import structlog

from k8s_monitor import __version__
from k8s_monitor.errors import ConfigurationError, NotificationError
from k8s_monitor.notify.messages import (
    CHAT_KINDS,
    Kind,
    Notification,
    slack_payload,
    webhook_payload,
)

log = structlog.get_logger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryRejectedError(NotificationError):
    """The receiver refused the message itself (4xx): retrying the same bytes cannot help."""


class Sink(Protocol):
    name: str
    kinds: frozenset[Kind]  # the notifications this sink takes

    def send(self, message: Notification) -> None:
        """Deliver or raise ``NotificationError``."""
        ...


class LogSink:
    """Every notification as one structured log line; cannot fail."""

    name = "log"
    kinds = CHAT_KINDS

    def send(self, message: Notification) -> None:
        log.info(
            "notification",
            kind=message.kind.value,
            sev=message.sev_label,
            cluster=message.cluster,
            cycle=message.cycle,
            key=message.key,
            title=message.title,
            fingerprints=[i.fingerprint for i in message.items],
        )


class HttpSink:
    """POST a rendered notification as JSON, with the idempotency key as a header."""

    kinds = CHAT_KINDS

    def __init__(
        self,
        name: str,
        url: str,
        render: Callable[[Notification], bytes],
        timeout: float,
    ) -> None:
        self.name = name
        self._url = url
        self._render = render
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the URL
        return f"HttpSink(name={self.name!r})"

    def send(self, message: Notification) -> None:
        request = urllib.request.Request(  # noqa: S310 - the operator configures an http(s) URL
            self._url,
            data=self._render(message),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"k8s-monitor/{__version__}",
                IDEMPOTENCY_HEADER: message.key,
            },
        )
        open_request(self.name, request, self._timeout)


def open_request(
    name: str,
    request: urllib.request.Request,
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> bytes:
    """The response body; ``NotificationError`` (retry) or ``DeliveryRejectedError`` (4xx)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in (408, 425, 429)
        error = NotificationError if retryable else DeliveryRejectedError
        raise error(f"{name}: HTTP {exc.code}{_detail(exc)}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # ``from None``: the chained exception would carry the URL into tracebacks.
        raise NotificationError(f"{name}: {type(exc).__name__}: {_reason(exc)}") from None


def _detail(exc: urllib.error.HTTPError) -> str:
    """The first line of a JSON error body (Alertmanager says which label it refused)."""
    if "json" not in (exc.headers.get("Content-Type") or ""):
        return ""
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except OSError:
        return ""
    line = " ".join(text.split())
    return f": {line[:200]}" if line else ""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _checked(url: str, setting: str) -> str:
    # urllib also opens file:// and ftp:// URLs; a webhook is only ever http(s).
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigurationError(setting, "value hidden (secret): expected an http(s) URL")
    return url


def slack_sink(url: str, timeout: float) -> HttpSink:
    return HttpSink("slack", _checked(url, "SLACK_WEBHOOK_URL"), slack_payload, timeout)


def webhook_sink(url: str, timeout: float) -> HttpSink:
    return HttpSink("webhook", _checked(url, "WEBHOOK_URL"), webhook_payload, timeout)
