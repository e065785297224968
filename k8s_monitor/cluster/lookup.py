"""Bounded, read-only lookups: the objects, lists, events and logs a person reads with kubectl.

The model's tools, ``k8s-monitor ask``, the MCP server and the evidence playbooks all read the
cluster through :class:`ClusterLookup`: GET requests only, over the same :class:`Transport` as
collection, so auth, TLS, token rotation and timeouts behave alike. Every answer is compacted
(no ``managedFields``, no last-applied manifest, env var *names* only, ConfigMap *keys* only),
redacted with the one :class:`Redactor`, and capped (:func:`render_capped`, about 4,000 tokens).
Secrets are refused before any request is made. Failures are typed
(:class:`~k8s_monitor.errors.ClusterLookupError` and its subclasses): a caller turns them into
a message ("not found", "forbidden"), never into a failed cycle.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from k8s_monitor.analysis.rules.quantity import parse_quantity
from k8s_monitor.cluster import resources as res
from k8s_monitor.cluster.logtails import LogTarget, tail_from_response
from k8s_monitor.cluster.sanitize import DROPPED_ANNOTATIONS
from k8s_monitor.cluster.snapshot import KINDS
from k8s_monitor.cluster.transport import Query, Response, Transport, TransportError
from k8s_monitor.errors import (
    AccessDeniedError,
    BadRequestError,
    BadSelectorError,
    ClusterLookupError,
    GoneError,
    LookupTimeoutError,
    LookupUnavailableError,
    ObjectNotFoundError,
    SecretRefusedError,
    UnknownKindError,
)
from k8s_monitor.redaction import Redactor

if TYPE_CHECKING:
    from k8s_monitor.config import Settings

JSON = dict[str, Any]

# About 4,000 tokens at the usual four characters a token: the cap of one rendered result.
DEFAULT_MAX_CHARS = 16_000
DEFAULT_TIMEOUT_SECONDS = 10.0
LIST_LIMIT_MAX = 200
EVENTS_MAX = 40
LOG_TAIL_LINES_MAX = 500
LOG_BYTES_MAX = 16_384
ROLLOUT_REVISIONS = 5
DIFF_CHANGES_MAX = 40
NODE_PODS_SHOWN = 60
ENDPOINTS_SHOWN = 60
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
_RETRY_DELAY_SECONDS = 0.2
_REVISION = "deployment.kubernetes.io/revision"
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_SECRET_NAMES = frozenset({"secret", "secrets"})
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# What a label or field selector may contain: keys, values, operators, set syntax.
_SELECTOR_RE = re.compile(r"^[A-Za-z0-9_./\-=!,() ]{0,512}$")


# --- what can be looked up ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupKind:
    """One kind a lookup reads: its REST path and the names a caller may use for it."""

    kind: str
    plural: str
    group: str
    version: str
    namespaced: bool
    aliases: tuple[str, ...] = ()
    # ConfigMaps are granted ``get`` only: one named object at a time, its values dropped.
    listable: bool = True

    @property
    def api_prefix(self) -> str:
        return "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"

    def collection_path(self, namespace: str | None) -> str:
        if namespace and self.namespaced:
            return f"{self.api_prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.api_prefix}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    @property
    def verbs(self) -> tuple[str, ...]:
        return ("get", "list", "watch") if self.listable else ("get",)

    @property
    def rbac_rule(self) -> str:
        verbs = ", ".join(f'"{verb}"' for verb in self.verbs)
        return f'{{apiGroups: ["{self.group}"], resources: ["{self.plural}"], verbs: [{verbs}]}}'


def _collected_kinds() -> list[LookupKind]:
    kind_of = {struct: kind for kind, (struct, _) in KINDS.items()}
    return [
        LookupKind(kind_of[r.struct], r.plural, r.group, r.version, r.namespaced)
        for r in res.RESOURCES
        if not r.optional_api
    ]


SERVICES = LookupKind("Service", "services", "", "v1", True, ("svc",))
ENDPOINT_SLICES = LookupKind("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True)
CONFIG_MAPS = LookupKind("ConfigMap", "configmaps", "", "v1", True, ("cm",), listable=False)

# Kinds read by lookups only (not collected every cycle); the ClusterRole grants them too.
LOOKUP_ONLY_KINDS: tuple[LookupKind, ...] = (SERVICES, ENDPOINT_SLICES, CONFIG_MAPS)
LOOKUP_KINDS: tuple[LookupKind, ...] = (*_collected_kinds(), *LOOKUP_ONLY_KINDS)

_SHORT_NAMES = {
    "pods": "po",
    "nodes": "no",
    "events": "ev",
    "namespaces": "ns",
    "deployments": "deploy",
    "replicasets": "rs",
    "statefulsets": "sts",
    "daemonsets": "ds",
    "cronjobs": "cj",
    "persistentvolumeclaims": "pvc",
    "persistentvolumes": "pv",
    "horizontalpodautoscalers": "hpa",
    "poddisruptionbudgets": "pdb",
    "resourcequotas": "quota",
}


def _index(kinds: Iterable[LookupKind]) -> dict[str, LookupKind]:
    table: dict[str, LookupKind] = {}
    for item in kinds:
        names = {item.kind.lower(), item.plural, *item.aliases}
        if item.plural in _SHORT_NAMES:
            names.add(_SHORT_NAMES[item.plural])
        for name in names:
            table[name] = item
    return table


_BY_NAME = _index(LOOKUP_KINDS)
KIND_NAMES: tuple[str, ...] = tuple(sorted(item.kind for item in LOOKUP_KINDS))


def resolve_kind(kind: str) -> LookupKind:
    """The kind named ``kind`` (Kind, plural or short name, any case).

    Raises :class:`SecretRefusedError` for Secrets and :class:`UnknownKindError` otherwise.
    """
    name = kind.strip().lower().rsplit("/", 1)[-1]
    if name in _SECRET_NAMES or name.startswith("secret."):
        raise SecretRefusedError("Secrets are never read: k8s-monitor has no access to them")
    found = _BY_NAME.get(name)
    if found is None:
        raise UnknownKindError(f"unknown kind {kind!r}; known kinds: {', '.join(KIND_NAMES)}")
    return found


# --- typed results --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectView:
    """One object, compacted and redacted."""

    kind: str
    namespace: str
    name: str
    object: JSON


@dataclass(frozen=True, slots=True)
class ObjectList:
    """Summaries of a list's objects; ``more`` when the list went past ``limit``."""

    kind: str
    namespace: str
    label_selector: str
    field_selector: str
    items: list[JSON]
    more: bool = False


@dataclass(frozen=True, slots=True)
class EventRow:
    type: str
    reason: str
    message: str
    object: str  # "Kind namespace/name"
    count: int
    last_seen: str
    source: str


@dataclass(frozen=True, slots=True)
class EventList:
    """Events, newest first, at most :data:`EVENTS_MAX`; ``total`` counts before the cut."""

    scope: str
    events: list[EventRow]
    total: int


@dataclass(frozen=True, slots=True)
class LogText:
    """A container's log tail: capped on whole lines and redacted."""

    namespace: str
    pod: str
    container: str
    previous: bool
    text: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class TemplateChange:
    path: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class Revision:
    revision: int
    replicaset: str
    replicas: int
    ready: int
    created: str
    images: list[str]
    # The pod-template changes from the previous revision shown (empty for the oldest).
    changes: list[TemplateChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RolloutHistory:
    namespace: str
    deployment: str
    current_revision: int
    conditions: list[str]
    revisions: list[Revision]


@dataclass(frozen=True, slots=True)
class ResourceUse:
    resource: str  # "cpu" | "memory" | "pods"
    requested: float
    allocatable: float | None

    @property
    def percent(self) -> float | None:
        if not self.allocatable:
            return None
        return round(100.0 * self.requested / self.allocatable, 1)


@dataclass(frozen=True, slots=True)
class NodeDetail:
    name: str
    unschedulable: bool
    conditions: list[str]
    taints: list[str]
    usage: list[ResourceUse]
    pods: list[JSON]
    pod_count: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    ready: bool
    target: str  # "Pod name" or ""
    node: str


@dataclass(frozen=True, slots=True)
class ServiceEndpoints:
    namespace: str
    name: str
    type: str
    selector: dict[str, str]
    ports: list[str]
    ready: int
    not_ready: int
    endpoints: list[Endpoint]
    selected_pods: list[JSON]  # the pods the selector matches, when none is ready


@dataclass(frozen=True, slots=True)
class ConfigMapKeys:
    """A ConfigMap's key names. Values are never returned."""

    namespace: str
    name: str
    keys: list[str]
    binary_keys: list[str]


LookupResult = (
    ObjectView
    | ObjectList
    | EventList
    | LogText
    | RolloutHistory
    | NodeDetail
    | ServiceEndpoints
    | ConfigMapKeys
)


def result_data(result: LookupResult) -> JSON:
    """A result as plain JSON data (computed properties included)."""
    data = dataclasses.asdict(result)
    if isinstance(result, NodeDetail):
        data["usage"] = [{**dataclasses.asdict(u), "percent": u.percent} for u in result.usage]
    return data


def render_capped(result: LookupResult | JSON, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Compact JSON of ``result``, never longer than ``max_chars``.

    Long strings are cut first, then lists shortened (the note says how many were left out);
    as the last resort the text itself is cut.
    """
    data = result if isinstance(result, dict) else result_data(result)
    text = _dumps(data)
    if len(text) <= max_chars:
        return text
    for string_cap in (2_000, 600, 200):
        for list_cap in (100, 40, 20, 10, 5, 2, 1):
            text = _dumps(_shrink(data, string_cap, list_cap))
            if len(text) <= max_chars:
                return text
    marker = '..."[cut: output cap reached]"'
    return text[: max(0, max_chars - len(marker))] + marker


def _dumps(data: Any) -> str:
    return orjson.dumps(data, default=str).decode()


def _shrink(value: Any, string_cap: int, list_cap: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= string_cap else value[:string_cap] + "...[cut]"
    if isinstance(value, dict):
        return {k: _shrink(v, string_cap, list_cap) for k, v in value.items()}
    if isinstance(value, list):
        kept = [_shrink(v, string_cap, list_cap) for v in value[:list_cap]]
        if len(value) > list_cap:
            kept.append(f"[{len(value) - list_cap} more left out]")
        return kept
    return value


# --- the lookup -------------------------------------------------------------------------------


class ClusterLookup:
    """Bounded, read-only, redacted lookups. Thread-safe (the transport's pool is)."""

    def __init__(
        self,
        api_client: Any,
        redactor: Redactor,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self._api_client = api_client
        self._redactor = redactor
        self._transport = Transport(api_client, timeout_seconds)
        self.max_chars = max_chars
        self.requests = 0  # GETs issued, for budgets and benchmarks

    @classmethod
    def from_settings(
        cls, api_client: Any, settings: Settings, redactor: Redactor
    ) -> ClusterLookup:
        return cls(
            api_client,
            redactor,
            timeout_seconds=min(settings.collect_timeout_seconds, DEFAULT_TIMEOUT_SECONDS),
            max_chars=settings.tool_output_max_tokens * 4,
        )

    def close(self) -> None:
        self._api_client.close()

    def render(self, result: LookupResult | JSON) -> str:
        return render_capped(result, self.max_chars)

    # --- objects and lists --------------------------------------------------------------

    def get_object(self, kind: str, namespace: str | None, name: str) -> ObjectView:
        """One object, compacted and redacted (``namespace`` ignored for cluster-scoped kinds)."""
        found = resolve_kind(kind)
        ns = _namespace_for(found, namespace)
        obj = self._get_json(
            found.object_path(ns, _checked_name(name)), what=f"{found.kind} {name}"
        )
        return ObjectView(found.kind, ns or "", name, compact_object(found, obj, self._redactor))

    def list_objects(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 50,
    ) -> ObjectList:
        """Summaries of up to ``limit`` objects (at most :data:`LIST_LIMIT_MAX`)."""
        found = resolve_kind(kind)
        if not found.listable:
            raise AccessDeniedError(f"{found.plural} are read one at a time by name, never listed")
        ns = _namespace_for(found, namespace)
        limit = max(1, min(limit, LIST_LIMIT_MAX))
        items, more = self._list(found, ns, label_selector, field_selector, limit)
        rows = [summarize(found.kind, item, self._redactor) for item in items]
        return ObjectList(found.kind, ns or "", label_selector, field_selector, rows, more)

    # --- events ---------------------------------------------------------------------------

    def events_for(self, kind: str, namespace: str | None, name: str) -> EventList:
        """Events about one object (any type), newest first."""
        found = resolve_kind(kind)
        ns = _namespace_for(found, namespace)
        selector = f"involvedObject.kind={found.kind},involvedObject.name={_checked_name(name)}"
        scope = f"{found.kind} {ns + '/' if ns else ''}{name}"
        return self._events(ns, selector, scope)

    def events_in(self, namespace: str, *, warnings_only: bool = True) -> EventList:
        """A namespace's events (Warnings by default), newest first."""
        ns = _checked_name(namespace)
        return self._events(ns, "type=Warning" if warnings_only else "", f"namespace {ns}")

    def _events(self, namespace: str | None, selector: str, scope: str) -> EventList:
        items, _ = self._list(res_kind("Event"), namespace, "", selector, LIST_LIMIT_MAX)
        rows = sorted((self._event_row(e) for e in items), key=lambda r: r.last_seen, reverse=True)
        return EventList(scope, rows[:EVENTS_MAX], len(rows))

    def _event_row(self, event: JSON) -> EventRow:
        involved = event.get("involvedObject") or {}
        series = event.get("series") or {}
        meta = event.get("metadata") or {}
        last = (
            series.get("lastObservedTime")
            or event.get("lastTimestamp")
            or event.get("eventTime")
            or meta.get("creationTimestamp")
            or ""
        )
        where = involved.get("namespace")
        return EventRow(
            type=str(event.get("type", "")),
            reason=str(event.get("reason", "")),
            message=self._redactor.redact(str(event.get("message", ""))),
            object=f"{involved.get('kind', '')} {where + '/' if where else ''}"
            f"{involved.get('name', '')}",
            count=int(series.get("count") or event.get("count") or 1),
            last_seen=str(last),
            source=str(
                (event.get("source") or {}).get("component") or event.get("reportingComponent", "")
            ),
        )

    # --- logs -----------------------------------------------------------------------------

    def container_logs(
        self,
        namespace: str,
        pod: str,
        container: str = "",
        *,
        previous: bool = False,
        tail_lines: int = 100,
        since_seconds: int | None = None,
        max_bytes: int = 8_192,
    ) -> LogText:
        """The last lines of a container's log (``previous``: the instance that crashed)."""
        ns, name = _checked_name(namespace), _checked_name(pod)
        lines = max(1, min(tail_lines, LOG_TAIL_LINES_MAX))
        cap = max(256, min(max_bytes, LOG_BYTES_MAX, self.max_chars))
        query: list[tuple[str, str]] = [("tailLines", str(lines)), ("limitBytes", str(cap * 8))]
        if container:
            query.append(("container", _checked_name(container)))
        if previous:
            query.append(("previous", "true"))
        if since_seconds is not None and since_seconds > 0:
            query.append(("sinceSeconds", str(int(since_seconds))))
        path = f"/api/v1/namespaces/{ns}/pods/{name}/log"
        response = self._get(path, query, accept="text/plain", max_bytes=cap)
        self._raise_for(response, what=f"log of {ns}/{name}", rule=res.POD_LOGS_RULE)
        target = LogTarget(0, 0, ns, name, container, previous, "")
        tail = tail_from_response(target, response, max_bytes=cap, redactor=self._redactor)
        return LogText(ns, name, container, previous, tail.text, tail.truncated)

    # --- composite views ------------------------------------------------------------------

    def rollout_history(self, namespace: str, deployment: str) -> RolloutHistory:
        """The Deployment's last revisions, each with its pod-template diff from the one before."""
        kind = res_kind("Deployment")
        ns, name = _checked_name(namespace), _checked_name(deployment)
        obj = self._get_json(kind.object_path(ns, name), what=f"Deployment {ns}/{name}")
        meta = obj.get("metadata") or {}
        match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
        sets, _ = self._list(res_kind("ReplicaSet"), ns, selector, "", LIST_LIMIT_MAX)
        owned = [rs for rs in sets if _owned_by(rs, "Deployment", name)]
        owned.sort(key=_revision_of)
        revisions: list[Revision] = []
        previous: JSON | None = None
        for rs in owned:
            template = _template_of(rs, self._redactor)
            changes = diff_templates(previous, template) if previous is not None else []
            previous = template
            revisions.append(_revision_row(rs, changes))
        status = obj.get("status") or {}
        return RolloutHistory(
            namespace=ns,
            deployment=name,
            current_revision=_int((meta.get("annotations") or {}).get(_REVISION)),
            conditions=[
                self._redactor.redact(_condition_text(c)) for c in status.get("conditions") or ()
            ],
            revisions=revisions[-ROLLOUT_REVISIONS:],
        )

    def node_detail(self, name: str) -> NodeDetail:
        """A node's conditions and taints, requests of its pods against allocatable, its pods."""
        node_name = _checked_name(name)
        node = self._get_json(res_kind("Node").object_path(None, node_name), what=f"Node {name}")
        pods, more = self._list(
            res_kind("Pod"), None, "", f"spec.nodeName={node_name}", LIST_LIMIT_MAX
        )
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in _TERMINAL_PHASES]
        status = node.get("status") or {}
        spec = node.get("spec") or {}
        rows = [summarize("Pod", p, self._redactor) for p in pods]
        rows.sort(key=lambda row: (row.get("ready_ok", True), row["namespace"], row["name"]))
        return NodeDetail(
            name=node_name,
            unschedulable=bool(spec.get("unschedulable")),
            conditions=[
                self._redactor.redact(_condition_text(c)) for c in status.get("conditions") or ()
            ],
            taints=[
                f"{t.get('key', '')}={t.get('value', '')}:{t.get('effect', '')}"
                for t in spec.get("taints") or ()
            ],
            usage=_usage(active, status.get("allocatable") or {}),
            pods=rows[:NODE_PODS_SHOWN],
            pod_count=len(pods) + (1 if more else 0),
        )

    def service_endpoints(self, namespace: str, name: str) -> ServiceEndpoints:
        """A Service's ports and selector, its EndpointSlices' addresses, and (when none is
        ready) the pods its selector matches."""
        ns, svc = _checked_name(namespace), _checked_name(name)
        service = self._get_json(SERVICES.object_path(ns, svc), what=f"Service {ns}/{svc}")
        spec = service.get("spec") or {}
        selector = {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}
        slices, _ = self._list(ENDPOINT_SLICES, ns, f"{_SERVICE_NAME_LABEL}={svc}", "", 50)
        endpoints = [ep for piece in slices for ep in _endpoints(piece)]
        ready = sum(1 for ep in endpoints if ep.ready)
        selected: list[JSON] = []
        if ready == 0 and selector:
            label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            pods, _ = self._list(res_kind("Pod"), ns, label_selector, "", 20)
            selected = [summarize("Pod", p, self._redactor) for p in pods]
        return ServiceEndpoints(
            namespace=ns,
            name=svc,
            type=str(spec.get("type", "ClusterIP")),
            selector=selector,
            ports=[_port_text(p) for p in spec.get("ports") or ()],
            ready=ready,
            not_ready=len(endpoints) - ready,
            endpoints=endpoints[:ENDPOINTS_SHOWN],
            selected_pods=selected,
        )

    def configmap_keys(self, namespace: str, name: str) -> ConfigMapKeys:
        """The key names of a ConfigMap; its values are dropped unread."""
        ns, cm = _checked_name(namespace), _checked_name(name)
        obj = self._get_json(CONFIG_MAPS.object_path(ns, cm), what=f"ConfigMap {ns}/{cm}")
        return ConfigMapKeys(
            namespace=ns,
            name=cm,
            keys=sorted(str(k) for k in (obj.get("data") or {})),
            binary_keys=sorted(str(k) for k in (obj.get("binaryData") or {})),
        )

    # --- requests -------------------------------------------------------------------------

    def _list(
        self,
        kind: LookupKind,
        namespace: str | None,
        label_selector: str,
        field_selector: str,
        limit: int,
    ) -> tuple[list[JSON], bool]:
        """One page of at most ``limit`` raw objects, and whether the list has more."""
        query: list[tuple[str, str]] = [("limit", str(limit))]
        if label_selector:
            query.append(("labelSelector", _checked_selector(label_selector, "label")))
        if field_selector:
            query.append(("fieldSelector", _checked_selector(field_selector, "field")))
        path = kind.collection_path(namespace)
        response = self._get(path, query)
        if response.status == 400 and (label_selector or field_selector):
            raise BadSelectorError(f"selector rejected: {self._message(response)}")
        self._raise_for(response, what=f"{kind.plural} list", rule=kind.rbac_rule)
        body = _loads(response.body)
        items = [item for item in body.get("items") or () if isinstance(item, dict)]
        more = bool((body.get("metadata") or {}).get("continue"))
        return items, more

    def _get_json(self, path: str, *, what: str) -> JSON:
        response = self._get(path, ())
        self._raise_for(response, what=what, rule=_rule_for(path))
        return _loads(response.body)

    def _get(
        self,
        path: str,
        query: Query,
        *,
        accept: str = "application/json",
        max_bytes: int | None = None,
    ) -> Response:
        for attempt in (1, 2):
            self.requests += 1
            try:
                response = self._transport.get(path, query, accept=accept, max_bytes=max_bytes)
            except TransportError as exc:
                if exc.timeout:
                    raise LookupTimeoutError(
                        f"the apiserver did not answer in time: {exc}"
                    ) from exc
                raise LookupUnavailableError(f"no answer from the apiserver: {exc}") from exc
            if response.status in _TRANSIENT and attempt == 1:
                time.sleep(_RETRY_DELAY_SECONDS)
                continue
            return response
        return response

    def _message(self, response: Response) -> str:
        return self._redactor.redact(response.message)

    def _raise_for(self, response: Response, *, what: str, rule: str) -> None:
        status = response.status
        if status == 200:
            return
        message = self._message(response)
        if status in (401, 403):
            fix = (
                f"; grant it with the rule {rule} in the ClusterRole {res.CLUSTER_ROLE}"
                if rule
                else ""
            )
            raise AccessDeniedError(f"forbidden: {what}: {message}{fix}")
        if status == 404:
            raise ObjectNotFoundError(f"not found: {what}: {message}")
        if status == 410:
            raise GoneError(f"gone: {what}: {message}")
        if status == 400:
            raise BadRequestError(f"bad request: {what}: {message}")
        if status == 504:
            raise LookupTimeoutError(f"timeout: {what}: {message}")
        raise LookupUnavailableError(f"the apiserver answered {status} for {what}: {message}")


def _rule_for(path: str) -> str:
    """The RBAC rule that grants a GET of ``path`` (an object path), for the error's fix."""
    parts = path.split("/")
    plural = parts[-2] if len(parts) >= 2 else ""
    for item in LOOKUP_KINDS:
        if item.plural == plural and path.startswith(item.api_prefix + "/"):
            return item.rbac_rule
    return ""


def res_kind(kind: str) -> LookupKind:
    """A known kind by its Kind name (for the lookup's own composite views)."""
    return _BY_NAME[kind.lower()]


# --- checks -----------------------------------------------------------------------------------


def _namespace_for(kind: LookupKind, namespace: str | None) -> str | None:
    if not kind.namespaced:
        return None
    return _checked_name(namespace) if namespace else None


def _checked_name(name: str | None) -> str:
    """A DNS-style object name; anything else (paths, queries) is refused before a request."""
    text = (name or "").strip()
    if not _NAME_RE.match(text):
        raise BadRequestError(f"not a valid object name: {text[:80]!r}")
    return text


def _checked_selector(selector: str, what: str) -> str:
    if not _SELECTOR_RE.match(selector) or selector.count("(") != selector.count(")"):
        raise BadSelectorError(f"malformed {what} selector: {selector[:120]!r}")
    return selector


def _loads(body: bytes) -> JSON:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise LookupUnavailableError(
            f"the apiserver answered something that is not JSON: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise LookupUnavailableError("the apiserver answered JSON that is not an object")
    return data


# --- compaction and redaction of raw objects ---------------------------------------------------


def compact_object(kind: LookupKind, obj: JSON, redactor: Redactor) -> JSON:
    """``obj`` without bookkeeping, env values or ConfigMap values, every string redacted."""
    out = {k: v for k, v in obj.items() if k not in ("data", "binaryData", "stringData")}
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = meta.get("annotations") or {}
    if annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS}
    out["metadata"] = meta
    if kind.kind == "ConfigMap":
        out["dataKeys"] = sorted(obj.get("data") or {})
        out["binaryDataKeys"] = sorted(obj.get("binaryData") or {})
    scrubbed = _scrub(out, redactor)
    cleaned: JSON = redactor.redact_obj(scrubbed)
    return cleaned


def _scrub(value: Any, redactor: Redactor) -> Any:
    """Env var values dropped (names and references kept); command lines redacted as argv."""
    if isinstance(value, dict):
        out: JSON = {}
        for key, item in value.items():
            if key == "env" and isinstance(item, list):
                out[key] = [_env_ref(e) for e in item if isinstance(e, dict)]
            elif key in ("command", "args") and isinstance(item, list):
                out[key] = redactor.redact_argv([str(part) for part in item])
            else:
                out[key] = _scrub(item, redactor)
        return out
    if isinstance(value, list):
        return [_scrub(item, redactor) for item in value]
    return value


def _env_ref(env: Mapping[str, Any]) -> JSON:
    ref: JSON = {"name": env.get("name", "")}
    if "valueFrom" in env:
        ref["valueFrom"] = env["valueFrom"]
    elif "value" in env:
        ref["value"] = "[value not collected]"
    return ref


def summarize(kind: str, obj: JSON, redactor: Redactor) -> JSON:
    """One row of a list: name, namespace, and the few status fields that tell health."""
    meta = obj.get("metadata") or {}
    row: JSON = {"name": meta.get("name", ""), "namespace": meta.get("namespace", "")}
    status = obj.get("status") or {}
    if kind == "Pod":
        row.update(_pod_row(obj, redactor))
    elif kind == "Event":
        row.update(
            reason=obj.get("reason", ""),
            type=obj.get("type", ""),
            message=redactor.redact(str(obj.get("message", ""))),
        )
    else:
        row.update(
            {
                k: v
                for k, v in status.items()
                if isinstance(v, int | str) and not isinstance(v, bool)
            }
        )
        conditions = status.get("conditions") or ()
        if conditions:
            row["conditions"] = [redactor.redact(_condition_text(c)) for c in conditions]
    row["created"] = meta.get("creationTimestamp", "")
    return row


def _pod_row(pod: JSON, redactor: Redactor) -> JSON:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or statuses)
    reasons: list[str] = []
    for item in (*(status.get("initContainerStatuses") or ()), *statuses):
        state = item.get("state") or {}
        for phase in ("waiting", "terminated"):
            detail = state.get(phase) or {}
            if detail.get("reason"):
                reasons.append(f"{item.get('name', '')}: {detail['reason']}")
        last = (item.get("lastState") or {}).get("terminated") or {}
        if last.get("reason"):
            reasons.append(
                f"{item.get('name', '')} last: {last['reason']} ({last.get('exitCode')})"
            )
    row: JSON = {
        "phase": status.get("phase", ""),
        "ready": f"{ready}/{total}",
        "ready_ok": total > 0 and ready == total,
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "node": (pod.get("spec") or {}).get("nodeName", ""),
    }
    if reasons:
        row["reasons"] = reasons
    if status.get("reason"):
        row["reason"] = status["reason"]
    if status.get("message"):
        row["message"] = redactor.redact(str(status["message"]))
    return row


def _condition_text(condition: Mapping[str, Any]) -> str:
    text = f"{condition.get('type', '')}={condition.get('status', '')}"
    if condition.get("reason"):
        text += f" ({condition['reason']})"
    if condition.get("message"):
        text += f": {str(condition['message'])[:300]}"
    return text


# --- rollout history ----------------------------------------------------------------------------


def _owned_by(obj: JSON, kind: str, name: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return any(ref.get("kind") == kind and ref.get("name") == name for ref in refs)


def _revision_of(rs: JSON) -> int:
    return _int(((rs.get("metadata") or {}).get("annotations") or {}).get(_REVISION))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _template_of(rs: JSON, redactor: Redactor) -> JSON:
    template = dict(((rs.get("spec") or {}).get("template")) or {})
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    template["metadata"] = meta
    cleaned: JSON = redactor.redact_obj(_scrub(template, redactor))
    return cleaned


def _revision_row(rs: JSON, changes: list[TemplateChange]) -> Revision:
    meta = rs.get("metadata") or {}
    status = rs.get("status") or {}
    containers = (((rs.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or ()
    return Revision(
        revision=_revision_of(rs),
        replicaset=str(meta.get("name", "")),
        replicas=int(status.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        created=str(meta.get("creationTimestamp", "")),
        images=[str(c.get("image", "")) for c in containers],
        changes=changes,
    )


def diff_templates(before: JSON, after: JSON) -> list[TemplateChange]:
    """The leaf values that differ between two pod templates, by path.

    Paths read like ``spec.containers[api].image``.
    """
    old, new = _flatten(before), _flatten(after)
    changes = [
        TemplateChange(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]
    return changes[:DIFF_CHANGES_MAX]


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            # Containers, env vars, volumes and ports are keyed by name, so a reorder or an
            # insertion does not show every later entry as changed.
            label = item.get("name") if isinstance(item, dict) and "name" in item else index
            out.update(_flatten(item, f"{prefix}[{label}]"))
    else:
        out[prefix] = _dumps(value) if not isinstance(value, str) else value
    return out


# --- node usage ---------------------------------------------------------------------------------


def _usage(pods: list[JSON], allocatable: Mapping[str, str]) -> list[ResourceUse]:
    totals = {"cpu": 0.0, "memory": 0.0}
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or ():
            requests = (container.get("resources") or {}).get("requests") or {}
            for name in totals:
                totals[name] += _quantity(requests.get(name))
    uses = [
        ResourceUse(name, totals[name], _quantity_or_none(allocatable.get(name))) for name in totals
    ]
    uses.append(ResourceUse("pods", float(len(pods)), _quantity_or_none(allocatable.get("pods"))))
    return uses


def _quantity(text: Any) -> float:
    value = _quantity_or_none(text)
    return value if value is not None else 0.0


def _quantity_or_none(text: Any) -> float | None:
    if text is None:
        return None
    try:
        return parse_quantity(str(text))
    except ValueError:
        return None


# --- endpoints ----------------------------------------------------------------------------------


def _endpoints(piece: JSON) -> list[Endpoint]:
    out: list[Endpoint] = []
    for endpoint in piece.get("endpoints") or ():
        conditions = endpoint.get("conditions") or {}
        target = endpoint.get("targetRef") or {}
        out.extend(
            Endpoint(
                address=str(address),
                # An absent "ready" means ready, per the EndpointSlice API.
                ready=conditions.get("ready", True) is not False,
                target=f"{target.get('kind', '')} {target.get('name', '')}".strip(),
                node=str(endpoint.get("nodeName", "")),
            )
            for address in endpoint.get("addresses") or ()
        )
    return out


def _port_text(port: Mapping[str, Any]) -> str:
    name = f"{port['name']} " if port.get("name") else ""
    target = port.get("targetPort", port.get("port", ""))
    return f"{name}{port.get('port', '')}->{target}/{port.get('protocol', 'TCP')}"


__all__ = [
    "CONFIG_MAPS",
    "ENDPOINT_SLICES",
    "LOOKUP_KINDS",
    "LOOKUP_ONLY_KINDS",
    "SERVICES",
    "ClusterLookup",
    "ClusterLookupError",
    "ConfigMapKeys",
    "Endpoint",
    "EventList",
    "EventRow",
    "LogText",
    "LookupKind",
    "LookupResult",
    "NodeDetail",
    "ObjectList",
    "ObjectView",
    "ResourceUse",
    "Revision",
    "RolloutHistory",
    "ServiceEndpoints",
    "TemplateChange",
    "compact_object",
    "diff_templates",
    "render_capped",
    "resolve_kind",
    "result_data",
    "summarize",
]
