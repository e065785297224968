"""``SimServer``: a loopback Kubernetes API server serving a scenario or a generated cluster.

Real HTTP (optionally TLS), real paths, real JSON: the official client and kubectl talk to it
through an ordinary kubeconfig. Lists page with ``limit``/``continue`` over a frozen view of the
current step, so a paged read is consistent even while the scenario advances.
"""

from __future__ import annotations

import base64
import binascii
import collections
import http.server
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson
import structlog
import yaml

from k8s_monitor.sim import api
from k8s_monitor.sim.api import Resource
from k8s_monitor.sim.faults import Faults
from k8s_monitor.sim.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from k8s_monitor.sim.tables import to_table
from k8s_monitor.sim.tls import TlsFiles, generate_tls
from k8s_monitor.sim.view import ClusterSource, ClusterView, Collection

log = structlog.get_logger(__name__)

JSON = dict[str, Any]
STREAM_BATCH = 500


class SimRequest(NamedTuple):
    """One request the server answered: method, path, and query (last value per key)."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class _Response:
    status: int
    body: bytes | Iterator[bytes]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, obj: Any) -> _Response:
    return _Response(status, orjson.dumps(obj))


def _status(body: JSON) -> _Response:
    return _Response(int(body["code"]), orjson.dumps(body))


class _Token(NamedTuple):
    step: int
    position: int
    key: str
    namespace: str
    epoch: int
    issued: float


class SimServer:
    """Serve ``source`` on ``host:port`` (port 0 picks a free one) in a background thread.

    It starts serving on construction; use it as a context manager or call ``close()``.
    Control: ``advance()``/``goto()`` move through the scenario (also ``POST /sim/advance``,
    ``POST /sim/goto?step=N``, ``GET /sim/state``); ``faults`` injects errors and delays;
    ``down()``/``up()`` make the apiserver unreachable and back on the same port;
    ``require_token()`` answers 401 to other bearer tokens; ``expire_continue_tokens()``
    makes outstanding continue tokens 410; ``requests`` is the log of what was served.
    """

    def __init__(
        self,
        source: ClusterSource,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        *,
        token: str | None = None,
        continue_ttl_seconds: float = 300.0,
        request_log_size: int = 10_000,
    ) -> None:
        self.source = source
        self.host = host
        self.faults = Faults()
        self._token = token
        self._continue_ttl = continue_ttl_seconds
        self._lock = threading.RLock()
        self._step = 0
        self._epoch = 0
        self._entered: dict[int, datetime] = {0: _now()}
        self._views: collections.OrderedDict[int, ClusterView] = collections.OrderedDict()
        self._log_overrides: dict[tuple[str, str, str, bool], str] = {}
        self._requests: collections.deque[SimRequest] = collections.deque(maxlen=request_log_size)
        self._tmp = tempfile.TemporaryDirectory(prefix="k8s-monitor-sim-")
        self._tls: TlsFiles | None = generate_tls(Path(self._tmp.name), host) if tls else None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self._closed = False
        self.internal_errors = 0
        self.up()

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> SimServer:
        return self

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.down()
        if not self._closed:
            self._closed = True
            self._tmp.cleanup()

    def down(self) -> None:
        """Make the apiserver unreachable: stop listening and drop open connections."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            thread, self._thread = self._thread, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.drop_connections()
        if thread is not None:
            thread.join(timeout=5)
        log.debug("sim_server_down", url=self.url)

    def up(self) -> None:
        """Listen again (on the same port after a ``down()``)."""
        with self._lock:
            if self._httpd is not None:
                return
            if self._closed:
                raise RuntimeError("the simulator was closed")
            context = None
            if self._tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
            httpd = _HTTPServer((self.host, self._port), self, context)
            self._port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sim-apiserver-{self._port}",
                daemon=True,
            )
            self._thread.start()
        log.debug("sim_server_up", url=self.url)

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    # --- addresses and credentials ---------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self._port}"

    @property
    def ca_file(self) -> Path | None:
        return self._tls.ca_file if self._tls is not None else None

    def require_token(self, token: str | None) -> None:
        """Answer 401 to any bearer token but ``token``; ``None`` accepts any (or none)."""
        self._token = token

    def write_kubeconfig(
        self, path: str | Path, token: str | None = None, context: str = "sim"
    ) -> Path:
        """Write an ordinary kubeconfig (context ``sim``) pointing at this server."""
        path = Path(path)
        cluster: JSON = {"server": self.url}
        if self._tls is not None:
            cluster["certificate-authority-data"] = base64.b64encode(
                self._tls.ca_file.read_bytes()
            ).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": "default"},
                }
            ],
            "current-context": context,
            "users": [{"name": context, "user": {"token": token or self._token or "sim-token"}}],
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        return path

    # --- scenario steps --------------------------------------------------------------------

    @property
    def step(self) -> int:
        return self._step

    @property
    def step_count(self) -> int:
        return len(self.source.step_names)

    @property
    def step_name(self) -> str:
        return self.source.step_names[self._step]

    def advance(self) -> int:
        """Move to the next step (staying on the last one) and return the step index."""
        with self._lock:
            return self.goto(self._step + 1)

    def goto(self, step: int) -> int:
        with self._lock:
            step = max(0, min(step, self.step_count - 1))
            if step != self._step:
                self._step = step
                self._entered[step] = _now()
                self._views.pop(step, None)
            log.info("sim_step", step=step, name=self.step_name)
            return step

    def step_time(self, step: int) -> datetime:
        """The scenario clock at ``step``: fixed from the scenario start, or when it was entered."""
        start = self.source.fixed_start
        if start is not None:
            return start + timedelta(seconds=step * self.source.step_seconds)
        return self._entered.get(step, _now())

    def view(self, step: int | None = None) -> ClusterView:
        """The (cached) rendering of ``step``, by default the current one."""
        with self._lock:
            step = self._step if step is None else step
            cached = self._views.get(step)
            if cached is None:
                cached = self.source.view(step, self.step_time(step))
                self._views[step] = cached
                # Keep the current and the previous step so a list that started before an
                # advance() can finish on the state it started on, like etcd's history.
                while len(self._views) > 2:
                    self._views.popitem(last=False)
            self._views.move_to_end(step)
            return cached

    def expire_continue_tokens(self) -> None:
        """Make every outstanding continue token answer 410 Gone (like an etcd compaction)."""
        with self._lock:
            self._epoch += 1

    # --- logs and the request log ----------------------------------------------------------

    def set_pod_log(
        self, namespace: str, pod: str, container: str, text: str, previous: bool = False
    ) -> None:
        """Override what the log endpoint returns for one container (current or previous)."""
        with self._lock:
            self._log_overrides[(namespace, pod, container, previous)] = text

    @property
    def requests(self) -> list[SimRequest]:
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()

    # --- request handling (called from the handler threads) --------------------------------

    def _handle(self, method: str, target: str, headers: Any) -> _Response:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self._requests.append(SimRequest(method, parts.path, query))
        path = parts.path.rstrip("/") or "/"
        if path.startswith("/sim/"):
            return self._control(method, path, query)
        if self._token is not None and _bearer(headers.get("Authorization", "")) != self._token:
            return _status(api.status(401, "Unauthorized"))
        if method != "GET":
            return _status(
                api.status(
                    405,
                    f"the server does not allow this method on the requested resource ({method})",
                )
            )
        return self._route(path, query, headers.get("Accept", ""))

    def _control(self, method: str, path: str, query: dict[str, str]) -> _Response:
        if path == "/sim/advance" and method == "POST":
            self.advance()
        elif path == "/sim/goto" and method == "POST":
            try:
                self.goto(int(query.get("step", "")))
            except ValueError:
                return _status(api.status(400, "step must be an integer"))
        elif path != "/sim/state":
            return _status(api.not_found_path())
        return _json(
            200,
            {
                "scenario": self.source.name,
                "step": self._step,
                "stepName": self.step_name,
                "stepCount": self.step_count,
                "time": self.step_time(self._step).isoformat(),
            },
        )

    def _route(self, path: str, query: dict[str, str], accept: str) -> _Response:
        segments = [s for s in path.split("/") if s]
        with_metrics = self.source.has_metrics
        if path == "/version":
            return _json(200, self.source.version_info)
        if path in ("/healthz", "/livez", "/readyz"):
            return _Response(200, b"ok", "text/plain; charset=utf-8")
        if segments == ["api"]:
            return _json(200, api.api_versions(f"{self.host}:{self._port}"))
        if segments == ["apis"]:
            return _json(200, api.api_group_list(with_metrics))
        if len(segments) < 2 or segments[0] not in ("api", "apis"):
            return _status(api.not_found_path())
        if segments[0] == "api":
            group, version, rest = "", segments[1], segments[2:]
        elif len(segments) == 2:
            doc = api.api_group(segments[1], with_metrics)
            return _json(200, doc) if doc else _status(api.not_found_path())
        else:
            group, version, rest = segments[1], segments[2], segments[3:]
        if not rest:
            doc = api.api_resource_list(group, version, with_metrics)
            return _json(200, doc) if doc else _status(api.not_found_path())
        return self._resource_request(group, version, rest, query, accept)

    def _resource_request(
        self, group: str, version: str, rest: list[str], query: dict[str, str], accept: str
    ) -> _Response:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = api.BY_PATH.get((group, version, rest[0]))
        if resource is None or (resource.is_metrics and not self.source.has_metrics):
            return _status(api.not_found_path())
        if namespace is not None and not resource.namespaced:
            return _status(api.not_found_path())
        is_log = len(rest) == 3 and rest[2] == "log" and resource.kind == "Pod"
        if len(rest) > 2 and not is_log:
            return _status(api.not_found_path())
        name = rest[1] if len(rest) >= 2 else None
        if name is not None and resource.namespaced and namespace is None:
            return _status(api.not_found_path())
        fault_response = self._apply_fault(resource, namespace, name, query, is_log)
        if fault_response is not None:
            return fault_response
        if query.get("watch") in ("1", "true"):
            return _status(api.status(405, "watch is not supported by the simulator"))
        as_table = "as=Table" in accept
        if is_log and name is not None:
            return self._log(namespace or "", name, query)
        if name is not None:
            return self._get(resource, namespace, name, query, as_table)
        return self._list(resource, namespace, query, as_table)

    def _apply_fault(
        self,
        resource: Resource,
        namespace: str | None,
        name: str | None,
        query: dict[str, str],
        is_log: bool,
    ) -> _Response | None:
        plural = "pods/log" if is_log else resource.plural
        names = (plural, f"{plural}.{resource.group}") if resource.group else (plural,)
        if resource.is_metrics:
            names = (f"{plural}.{resource.group}",)
        rule = self.faults.take(names, namespace, bool(query.get("continue")))
        if rule is None:
            return None
        if rule.delay_seconds > 0:
            time.sleep(rule.delay_seconds)
        if rule.status is None:
            return None
        if rule.status == 403:
            verb = "get" if name is not None else "list"
            return _status(api.forbidden(plural, resource.group, verb, namespace, name, rule.user))
        response = _status(api.fault_status(rule.status, plural))
        if rule.status == 429:
            response.headers["Retry-After"] = "1"
        return response

    # --- lists -----------------------------------------------------------------------------

    def _list(
        self, resource: Resource, namespace: str | None, query: dict[str, str], as_table: bool
    ) -> _Response:
        try:
            label_reqs = parse_label_selector(query.get("labelSelector", ""))
            field_reqs = parse_field_selector(query.get("fieldSelector", ""), resource.plural)
            limit = int(query.get("limit") or 0)
        except SelectorError as exc:
            return _status(api.status(400, str(exc)))
        except ValueError:
            return _status(api.status(400, f"invalid limit: {query.get('limit')!r}"))
        resource_version = query.get("resourceVersion", "")
        token_text = query.get("continue", "")
        key = resource.collection_key
        ns_key = namespace or ""
        if token_text:
            if resource_version:
                return _status(
                    api.status(
                        400, "specifying resource version is not allowed when using continue"
                    )
                )
            token = self._decode_token(token_text, key, ns_key)
            if isinstance(token, str):
                # The apiserver: a token it cannot decode, or one for another list, is a bad
                # request; only a valid token whose snapshot is gone is 410 Expired.
                return _status(api.status(400, f"continue key is not valid: {token}"))
            if token is None:
                return _status(api.status(410, api.EXPIRED_MESSAGE))
            view = self.view(token.step)
            step, start = token.step, token.position
        else:
            chosen = self._step_for_version(resource_version, query.get("resourceVersionMatch", ""))
            if isinstance(chosen, _Response):
                return chosen
            step = chosen
            view = self.view(step)
            start = -1
        collection = view.collection(key)
        if collection is None:
            return _status(api.not_found_path())
        low, high = collection.namespace_range(namespace) if namespace else (0, len(collection))
        start = low if start < 0 else start
        if resource_version == "0" and not token_text:
            # Served from the watch cache, which historically ignores limit.
            limit = 0
        selecting = bool(label_reqs or field_reqs)

        def keep(obj: JSON) -> bool:
            return (not label_reqs or labels_match(label_reqs, obj)) and (
                not field_reqs or fields_match(field_reqs, obj)
            )

        meta: JSON = {"resourceVersion": str(view.resource_version)}
        if limit <= 0 and not as_table:
            return _Response(
                200,
                _stream_list(resource, meta, collection, start, high, keep if selecting else None),
            )
        if not selecting and not as_table:
            # Fast path: a page of pre-serialised objects, no dicts built or re-encoded.
            stop = min(high, start + limit)
            raw = b",".join(collection.raw_items(start, stop))
            if stop < high:
                meta["continue"] = self._encode_token(
                    _Token(step, stop, key, ns_key, self._epoch, time.time())
                )
                meta["remainingItemCount"] = high - stop
            head = orjson.dumps(
                {"kind": resource.list_kind, "apiVersion": resource.group_version, "metadata": meta}
            )
            return _Response(200, head[:-1] + b',"items":[' + raw + b"]}")
        items: list[JSON] = []
        index = start
        for obj in collection.items(start, high):
            index += 1
            if keep(obj):
                items.append(obj)
                if limit > 0 and len(items) >= limit:
                    break
        if limit > 0 and index < high:
            meta["continue"] = self._encode_token(
                _Token(step, index, key, ns_key, self._epoch, time.time())
            )
            if not selecting:
                meta["remainingItemCount"] = high - index
        if as_table:
            return _json(200, to_table(items, resource, view.now, meta))
        return _json(
            200,
            {
                "kind": resource.list_kind,
                "apiVersion": resource.group_version,
                "metadata": meta,
                "items": items,
            },
        )

    def _step_for_version(self, version: str, match: str) -> int | _Response:
        """The step a list with ``resourceVersion``/``resourceVersionMatch`` reads.

        Unset or "0": the current state. ``Exact``: the step whose version it is, while it is
        retained (else 410, "too old"). Otherwise "not older than": the current state, unless
        the version is from the future (504, as the apiserver times out waiting for it).
        """
        current = self._step
        if version in ("", "0"):
            return current
        if not version.isdigit():
            return _status(api.status(400, f"invalid resource version: {version!r}"))
        wanted = int(version)
        now_version = self.view(current).resource_version
        if match == "Exact":
            for step in (current, current - 1):
                if step >= 0 and self.view(step).resource_version == wanted:
                    return step
            if wanted > now_version:
                return _status(
                    api.status(504, f"Too large resource version: {wanted}, current: {now_version}")
                )
            return _status(api.status(410, f"too old resource version: {wanted} ({now_version})"))
        if wanted > now_version:
            return _status(
                api.status(504, f"Too large resource version: {wanted}, current: {now_version}")
            )
        return current

    def _encode_token(self, token: _Token) -> str:
        raw = orjson.dumps(
            {
                "s": token.step,
                "i": token.position,
                "k": token.key,
                "n": token.namespace,
                "e": token.epoch,
                "t": token.issued,
            }
        )
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode_token(self, text: str, key: str, namespace: str) -> _Token | str | None:
        """The token if still valid; ``None`` means 410 Gone, a string why it is malformed."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = orjson.loads(raw)
            token = _Token(
                int(data["s"]),
                int(data["i"]),
                str(data["k"]),
                str(data["n"]),
                int(data["e"]),
                float(data["t"]),
            )
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return "illegal continue token"
        if token.key != key or token.namespace != namespace:
            return "key provided for continue is not valid for this list"
        with self._lock:
            # Like etcd history: the current step and the one before it are still readable.
            retained = 0 <= self._step - token.step <= 1
            valid = (
                token.epoch == self._epoch
                and retained
                and time.time() - token.issued <= self._continue_ttl
            )
        return token if valid else None

    # --- single objects and logs -----------------------------------------------------------

    def _get(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        query: dict[str, str],
        as_table: bool,
    ) -> _Response:
        view = self.view()
        collection = view.collection(resource.collection_key)
        obj = collection.find(namespace, name) if collection is not None else None
        if obj is None:
            return _status(api.not_found_object(resource, name))
        if as_table:
            meta = {"resourceVersion": str(view.resource_version)}
            return _json(200, to_table([obj], resource, view.now, meta))
        return _json(200, {"kind": resource.kind, "apiVersion": resource.group_version, **obj})

    def _log(self, namespace: str, pod_name: str, query: dict[str, str]) -> _Response:
        view = self.view()
        pods = view.collection("pods")
        pod = pods.find(namespace, pod_name) if pods is not None else None
        if pod is None:
            return _status(api.not_found_object(api.BY_PATH[("", "v1", "pods")], pod_name))
        names = [c.get("name", "") for c in pod.get("spec", {}).get("containers", [])]
        container = query.get("container") or ""
        if not container:
            if len(names) != 1:
                return _status(
                    api.status(
                        400,
                        f"a container name must be specified for pod {pod_name}, "
                        f"choose one of: [{' '.join(names)}]",
                    )
                )
            container = names[0]
        if container not in names:
            return _status(
                api.status(400, f"container {container} is not valid for pod {pod_name}")
            )
        previous = query.get("previous") in ("true", "1")
        text = self._log_text(view, namespace, pod_name, container, previous)
        if isinstance(text, _Response):
            return text
        try:
            text = _shape_log(text, query, view.now)
        except ValueError as exc:
            return _status(api.status(400, str(exc)))
        return _Response(200, text.encode(), "text/plain")

    def _log_text(
        self, view: ClusterView, namespace: str, pod: str, container: str, previous: bool
    ) -> str | _Response:
        override = self._log_overrides.get((namespace, pod, container, previous))
        if override is not None:
            return override
        logs = view.logs(namespace, pod, container)
        if previous:
            if logs is None or logs.previous is None:
                return _status(
                    api.status(
                        400, f'previous terminated container "{container}" in pod "{pod}" not found'
                    )
                )
            return logs.previous
        if logs is None or logs.current is None:
            reason = logs.waiting_reason if logs is not None else "ContainerCreating"
            return _status(
                api.status(
                    400, f'container "{container}" in pod "{pod}" is waiting to start: {reason}'
                )
            )
        return logs.current


def _shape_log(text: str, query: dict[str, str], now: datetime) -> str:
    """Apply ``timestamps``, ``tailLines`` and ``limitBytes`` as kubelet does."""
    lines = text.splitlines(keepends=True)
    if query.get("tailLines"):
        tail = int(query["tailLines"])
        if tail < 0:
            raise ValueError("tailLines must be non-negative")
        lines = lines[-tail:] if tail else []
    if query.get("timestamps") in ("true", "1"):
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        lines = [f"{stamp} {line}" for line in lines]
    shaped = "".join(lines)
    if query.get("limitBytes"):
        limit = int(query["limitBytes"])
        if limit <= 0:
            raise ValueError("limitBytes must be a positive integer")
        shaped = shaped.encode()[:limit].decode(errors="ignore")
    return shaped


def _stream_list(
    resource: Resource,
    meta: JSON,
    collection: Collection,
    start: int,
    stop: int,
    keep: Callable[[JSON], bool] | None,
) -> Iterator[bytes]:
    """A whole list written in batches, so memory stays bounded by the batch, not the list."""
    head = orjson.dumps(
        {"kind": resource.list_kind, "apiVersion": resource.group_version, "metadata": meta}
    )
    yield head[:-1] + b',"items":['
    first = True
    if keep is None:
        for begin in range(start, stop, STREAM_BATCH):
            chunk = b",".join(collection.raw_items(begin, min(stop, begin + STREAM_BATCH)))
            yield chunk if first else b"," + chunk
            first = False
        yield b"]}"
        return
    batch: list[JSON] = []
    for obj in collection.items(start, stop):
        if keep(obj):
            batch.append(obj)
        if len(batch) >= STREAM_BATCH:
            yield (b"" if first else b",") + orjson.dumps(batch)[1:-1]
            first = False
            batch = []
    if batch:
        yield (b"" if first else b",") + orjson.dumps(batch)[1:-1]
    yield b"]}"


def _bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer`` header (scheme case-insensitive, as in Go)."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK stall every small response by ~40 ms (Go sets it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        try:
            response = self.server.sim._handle(method, self.path, self.headers)
        except Exception as exc:  # noqa: BLE001 - one bad request must not kill the server thread
            # A simulator bug, answered as the apiserver answers its own: a 500 Status. Counted
            # so tests can assert the simulator itself stayed healthy.
            self.server.sim.internal_errors += 1
            log.warning("sim_request_failed", path=self.path, error=repr(exc))
            response = _status(api.status(500, f"Internal error occurred: {exc}"))
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _write(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if isinstance(response.body, bytes):
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in response.body:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are in ``SimServer.requests``; stderr stays quiet."""


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], sim: SimServer, context: ssl.SSLContext | None
    ) -> None:
        self.sim = sim
        self._context = context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self._context is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake happens here, in the connection's own thread, not the accept loop.
        try:
            wrapped = self._context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("sim_tls_handshake_failed", error=repr(exc))
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def track(self, connection: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                log.debug("sim_connection_already_closed")

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sim_connection_error", client=str(client_address))
