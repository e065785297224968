"""Alertmanager peers: posting alerts (a sink per peer) and asking which ones are silenced.

Every peer gets every alert, as Prometheus does; the peers gossip and deduplicate among
themselves. Credentials come from files (mounted Secrets) read at each request, so a rotated
token is picked up without a restart; they never appear in a log or an error.
"""

from __future__ import annotations

import base64
import ssl
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import structlog

from k8s_monitor import __version__
from k8s_monitor.config import Settings, read_secret_file
from k8s_monitor.errors import NotificationError
from k8s_monitor.notify.alerts import SOURCE, SOURCE_LABEL, sanitise
from k8s_monitor.notify.messages import AlertSpec, Kind, Notification
from k8s_monitor.notify.sinks import open_request

log = structlog.get_logger(__name__)

ALERTS_PATH = "/api/v2/alerts"
# Alerts per POST: Alertmanager takes any number, but one huge body holds its lock longer and
# a failure would resend more than it must.
BATCH_SIZE = 200


@dataclass(frozen=True)
class Credentials:
    bearer_token_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None

    def headers(self) -> dict[str, str]:
        try:
            if self.bearer_token_file is not None:
                return {"Authorization": f"Bearer {read_secret_file(self.bearer_token_file)}"}
            if self.username is not None and self.password_file is not None:
                pair = f"{self.username}:{read_secret_file(self.password_file)}".encode()
                return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        except ValueError as exc:
            raise NotificationError(f"alertmanager credentials: {exc}") from None
        return {}


class _AlertsAnswer(msgspec.Struct):
    labels: dict[str, str]
    status: _Status


class _Status(msgspec.Struct):
    state: str
    silencedBy: list[str] = []  # noqa: N815 - Alertmanager's field names
    inhibitedBy: list[str] = []  # noqa: N815


class Peer:
    """One Alertmanager instance: its URL, credentials and TLS trust."""

    def __init__(
        self,
        name: str,
        url: str,
        timeout: float,
        credentials: Credentials | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.name = name
        self._base = url.rstrip("/")
        self._timeout = timeout
        self._credentials = credentials or Credentials()
        self._context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    def __repr__(self) -> str:
        return f"Peer(name={self.name!r})"

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"k8s-monitor/{__version__}",
            **self._credentials.headers(),
        }
        request = urllib.request.Request(  # noqa: S310 - http(s) checked by Settings
            self._base + path, data=body, method=method, headers=headers
        )
        return open_request(self.name, request, self._timeout, self._context)

    def post_alerts(self, alerts: Sequence[AlertSpec]) -> None:
        self._request("POST", ALERTS_PATH, msgspec.json.encode(alerts))

    def suppressed(self, cluster: str) -> set[str]:
        """Fingerprints of this cluster's alerts that a silence or an inhibition mutes now."""
        query = urllib.parse.urlencode(
            [
                ("active", "false"),
                ("silenced", "true"),
                ("inhibited", "true"),
                ("unprocessed", "false"),
                ("filter", f"{SOURCE_LABEL}={_quoted(SOURCE)}"),
                ("filter", f"cluster={_quoted(sanitise(cluster))}"),
            ]
        )
        raw = self._request("GET", f"{ALERTS_PATH}?{query}")
        try:
            answer = msgspec.json.decode(raw, type=list[_AlertsAnswer])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise NotificationError(f"{self.name}: unexpected answer: {exc}") from None
        return {
            a.labels["fingerprint"]
            for a in answer
            if "fingerprint" in a.labels and (a.status.silencedBy or a.status.inhibitedBy)
        }


def _quoted(value: str) -> str:
    """A matcher value in double quotes, as Alertmanager's filter parser reads it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AlertmanagerSink:
    """Posts a notification's alerts to one peer, in batches; one failed batch fails it all.

    Posting the same alert twice is harmless (Alertmanager merges by labels), so a retry of the
    whole message after a partial failure delivers nothing twice that matters.
    """

    kinds = frozenset({Kind.ALERTS})

    def __init__(self, peer: Peer, batch_size: int = BATCH_SIZE) -> None:
        self.name = peer.name
        self.peer = peer
        self._batch_size = batch_size

    def send(self, message: Notification) -> None:
        for batch in _batches(message.alerts, self._batch_size):
            self.peer.post_alerts(batch)


def _batches(alerts: list[AlertSpec], size: int) -> Iterator[list[AlertSpec]]:
    for start in range(0, len(alerts), size):
        yield alerts[start : start + size]


def peers_from(settings: Settings) -> list[Peer]:
    """One peer per ``ALERTMANAGER_URLS`` entry; names are stable spool keys."""
    credentials = Credentials(
        bearer_token_file=settings.alertmanager_bearer_token_file,
        username=settings.alertmanager_username,
        password_file=settings.alertmanager_password_file,
    )
    return [
        Peer(
            f"alertmanager-{index}",
            url,
            settings.notify_timeout_seconds,
            credentials,
            settings.alertmanager_ca_file,
        )
        for index, url in enumerate(settings.alertmanager_urls, start=1)
    ]


class SilenceOracle:
    """Asks the peers, first answer wins, which of the monitor's alerts are muted."""

    def __init__(self, peers: list[Peer], cluster: str) -> None:
        self.peers = peers
        self.cluster = cluster

    def muted(self, skip: set[str]) -> set[str] | None:
        """Muted fingerprints, or None when no peer could be asked (then nothing is held)."""
        errors = []
        for peer in self.peers:
            if peer.name in skip:
                errors.append(f"{peer.name}: down earlier this cycle")
                continue
            try:
                return peer.suppressed(self.cluster)
            except NotificationError as exc:
                errors.append(str(exc))
        if self.peers:
            log.warning("silences_unknown_notifying_anyway", errors=errors)
        return None
