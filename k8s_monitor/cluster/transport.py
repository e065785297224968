"""Raw HTTP GETs through the official client: its auth, TLS, proxies and exec plugins, our bytes.

The generated API methods deserialize into model classes, which is the slow, memory-hungry part
at scale. Here we let ``ApiClient`` build and sign the request (so token refresh hooks and exec
plugins keep working) and take the response body as bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from k8s_monitor.errors import ClusterAuthError, ClusterError

Query = Sequence[tuple[str, str]]


class TransportError(ClusterError):
    """No HTTP answer: the connection failed or timed out. ``timeout`` tells which."""

    def __init__(self, message: str, *, timeout: bool) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    truncated: bool = False
    retry_after: float | None = None  # seconds, from a Retry-After header (429, 503)

    @property
    def message(self) -> str:
        """The ``message`` of a Kubernetes ``Status`` body, else the start of the body."""
        try:
            status = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return self.body[:200].decode("utf-8", "replace").strip()
        if isinstance(status, dict):
            return str(status.get("message", ""))[:500]
        return ""


_CONNECT_TIMEOUT_CAP = 10.0


class Transport:
    """GET a path and return status and body; never raises for an HTTP status."""

    def __init__(self, api_client: Any, timeout_seconds: float) -> None:
        self._api = api_client
        self._timeout = (min(timeout_seconds, _CONNECT_TIMEOUT_CAP), timeout_seconds)

    def get(
        self,
        path: str,
        query: Query = (),
        *,
        accept: str = "application/json",
        max_bytes: int | None = None,
    ) -> Response:
        """GET ``path``. With ``max_bytes``, keep only the last ``max_bytes`` of the body.

        Raises :class:`TransportError` when no HTTP answer came back and
        :class:`ClusterAuthError` when credentials could not be produced (exec plugin failed).
        """
        try:
            method, url, headers, body, post = self._api.param_serialize(
                "GET",
                path,
                query_params=list(query),
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            raw = self._api.call_api(
                method, url, headers, body, post, _request_timeout=self._timeout
            ).response
        except ConfigException as exc:
            raise ClusterAuthError(f"cannot obtain credentials: {exc}") from exc
        except ApiException as exc:  # the REST layer's wrapper for TLS failures
            raise TransportError(f"{path}: {exc.reason}", timeout=False) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"{path}: {_describe(exc)}", timeout=_is_timeout(exc)) from exc
        try:
            data, truncated = _read(raw, max_bytes)
        except urllib3.exceptions.HTTPError as exc:
            raw.close()
            raise TransportError(f"{path}: {_describe(exc)}", timeout=_is_timeout(exc)) from exc
        finally:
            raw.release_conn()
        return Response(raw.status, data, truncated, _retry_after(raw.headers.get("Retry-After")))


_CHUNK = 64 * 1024


def _read(raw: Any, max_bytes: int | None) -> tuple[bytes, bool]:
    """The body, or its last ``max_bytes`` (log tails: the end is what explains a crash)."""
    if max_bytes is None:
        return bytes(raw.read()), False
    buffer = bytearray()
    truncated = False
    for chunk in raw.stream(_CHUNK):
        buffer += chunk
        if len(buffer) > max_bytes:
            truncated = True
            del buffer[: len(buffer) - max_bytes]
    return bytes(buffer), truncated


def _retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form: the apiserver never sends an HTTP date here.
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return True
    reason = getattr(exc, "reason", None)
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    shown = reason if isinstance(reason, BaseException) else exc
    return f"{type(shown).__name__}: {shown}"[:300]
