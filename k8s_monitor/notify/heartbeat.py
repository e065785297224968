"""The dead-man's switch: a heartbeat URL and an always-firing Watchdog alert after each cycle.

Both run on one background thread with a short timeout, so a slow receiver never delays a
cycle. A beat still in flight when the next one comes is not queued behind it: the newer beat
is skipped (and logged), since a late heartbeat says nothing the next one will not.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import structlog

from k8s_monitor import __version__
from k8s_monitor.errors import NotificationError
from k8s_monitor.notify.alertmanager import Peer
from k8s_monitor.notify.alerts import AlertOptions, watchdog
from k8s_monitor.notify.sinks import open_request

log = structlog.get_logger(__name__)

HEARTBEAT_TIMEOUT_SECONDS = 5.0


def fail_url(url: str) -> str:
    """``https://hc.example/ping/ID`` -> ``https://hc.example/ping/ID/fail`` (healthchecks.io)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/fail"))


class Heartbeat:
    def __init__(
        self,
        url: str | None,
        peers: list[Peer],
        options: AlertOptions,
        *,
        timeout: float = HEARTBEAT_TIMEOUT_SECONDS,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._url = url
        self._peers = peers
        self._options = options
        self._timeout = timeout
        self._on_error = on_error
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heartbeat")
        self._pending: Future[None] | None = None

    def __repr__(self) -> str:  # the URL is a secret: its path names the check
        return f"Heartbeat(peers={len(self._peers)})"

    def beat(self, ok: bool) -> None:
        """After a cycle: ``ok`` pings the URL and refreshes the Watchdog; else pings /fail."""
        if self._url is None and not (ok and self._peers):
            return
        if self._pending is not None and not self._pending.done():
            log.warning("heartbeat_skipped", reason="the previous beat is still in flight")
            return
        self._pending = self._executor.submit(self._send, ok, self._clock())

    def wait(self, timeout: float) -> bool:
        """True once the last beat finished (tests, shutdown)."""
        pending = self._pending
        if pending is None:
            return True
        try:
            pending.result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Give a beat in flight its timeout to finish, then stop the thread."""
        self.wait(self._timeout * 2)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _send(self, ok: bool, now: datetime) -> None:
        if self._url is not None:
            self._ping(self._url if ok else fail_url(self._url))
        if ok:
            alert = watchdog(now, self._options)
            for peer in self._peers:
                try:
                    peer.post_alerts([alert])
                except NotificationError as exc:
                    self._failed("watchdog", exc)

    def _ping(self, url: str) -> None:
        request = urllib.request.Request(  # noqa: S310 - http(s) checked by Settings
            url, method="GET", headers={"User-Agent": f"k8s-monitor/{__version__}"}
        )
        try:
            open_request("heartbeat", request, self._timeout)
        except NotificationError as exc:
            self._failed("heartbeat", exc)

    def _failed(self, what: str, exc: NotificationError) -> None:
        log.warning(f"{what}_failed", error=str(exc))
        if self._on_error is not None:
            self._on_error(type(exc).__name__)
