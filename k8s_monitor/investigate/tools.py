"""The model's read-only tools: JSON-schema specs, input checks, dispatch to ``ClusterLookup``.

One :class:`Toolbox` serves the cycle's investigation loop, ``k8s-monitor ask`` and the MCP
server alike. A tool never raises: every failure (a Secret asked for, an unknown kind or tool,
a malformed input or selector, 403/404/410, a timeout) comes back as an ``is_error`` result
whose text the model can read and act on. Every output is redacted and capped (the lookup's
cap, about 4,000 tokens), and marked as untrusted data from the cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Incident
from k8s_monitor.cluster.lookup import KIND_NAMES, ClusterLookup, LookupResult, render_capped
from k8s_monitor.errors import ClusterError, ClusterLookupError
from k8s_monitor.redaction import Redact

log = structlog.get_logger(__name__)

JSON = dict[str, Any]

# Wraps every output: the text inside is the cluster's, not the operator's.
OUTPUT_OPEN = '<tool_output tool="{name}" trust="untrusted-cluster-data">\n'
OUTPUT_CLOSE = "\n</tool_output>"
FINDING_TOOL = "finding_evidence"


def _string(description: str) -> JSON:
    return {"type": "string", "description": description}


def _integer(description: str) -> JSON:
    return {"type": "integer", "description": description}


_INCIDENT = _string("Fingerprint of the incident this call investigates (fp=...), if any.")
_NAMESPACE = _string("Namespace of the object.")


def _spec(name: str, description: str, properties: JSON, required: Sequence[str]) -> JSON:
    return {
        "name": name,
        "description": description,
        "input_schema": {
            "type": "object",
            "properties": {**properties, "incident": _INCIDENT},
            "required": list(required),
            "additionalProperties": False,
        },
    }


TOOL_SPECS: tuple[JSON, ...] = (
    _spec(
        "get_object",
        "Read one Kubernetes object (compact, redacted; env var values and ConfigMap values "
        f"are never shown; Secrets are never read). Kinds: {', '.join(KIND_NAMES)}.",
        {
            "kind": _string("Kind, plural or short name (Pod, deploy, svc, ...)."),
            "namespace": _string("Namespace; omit for cluster-scoped kinds (Node, ...)."),
            "name": _string("Object name."),
        },
        ["kind", "name"],
    ),
    _spec(
        "list_objects",
        "List objects of one kind (summaries: status, readiness, restarts), optionally in a "
        "namespace and filtered by label or field selector. At most 200.",
        {
            "kind": _string("Kind, plural or short name."),
            "namespace": _string("Namespace; omit for all namespaces."),
            "label_selector": _string("Label selector, e.g. app=checkout,tier!=cache."),
            "field_selector": _string("Field selector, e.g. status.phase=Pending."),
            "limit": _integer("Most objects to return (1-200, default 50)."),
        },
        ["kind"],
    ),
    _spec(
        "get_events",
        "Events about one object (kind, namespace, name), or a namespace's Warning events "
        "(namespace only); newest first.",
        {
            "kind": _string("Kind of the object the events are about."),
            "namespace": _NAMESPACE,
            "name": _string("Name of the object; omit for the whole namespace."),
        },
        [],
    ),
    _spec(
        "get_logs",
        "The last lines of a container's log; previous=true reads the instance that crashed.",
        {
            "namespace": _NAMESPACE,
            "pod": _string("Pod name."),
            "container": _string("Container name; required when the pod has several."),
            "previous": {"type": "boolean", "description": "The previous (crashed) instance."},
            "tail_lines": _integer("Lines from the end (1-500, default 100)."),
            "since_seconds": _integer("Only lines newer than this many seconds."),
        },
        ["namespace", "pod"],
    ),
    _spec(
        "rollout_history",
        "A Deployment's recent revisions (ReplicaSets) with the pod-template changes between "
        "consecutive revisions: what a rollout changed.",
        {"namespace": _NAMESPACE, "deployment": _string("Deployment name.")},
        ["namespace", "deployment"],
    ),
    _spec(
        "node_detail",
        "A node's conditions and taints, the requests of its pods against allocatable, and "
        "its pods (not ready first).",
        {"name": _string("Node name.")},
        ["name"],
    ),
    _spec(
        "service_endpoints",
        "A Service's selector and ports, its ready and not-ready endpoints (EndpointSlices), "
        "and the pods its selector matches when none is ready.",
        {"namespace": _NAMESPACE, "name": _string("Service name.")},
        ["namespace", "name"],
    ),
    _spec(
        "configmap_keys",
        "The key names of a ConfigMap (never its values): whether a referenced key exists.",
        {"namespace": _NAMESPACE, "name": _string("ConfigMap name.")},
        ["namespace", "name"],
    ),
    _spec(
        FINDING_TOOL,
        "What the monitor's deterministic rules know about an incident: its finding, "
        "evidence, the object it is caused by (cause graph), the findings it causes, and a "
        "root cause remembered from an earlier investigation.",
        {"fingerprint": _string("The incident's fingerprint (fp=...).")},
        ["fingerprint"],
    ),
)
TOOL_NAMES: frozenset[str] = frozenset(spec["name"] for spec in TOOL_SPECS)
_SPECS_BY_NAME: dict[str, JSON] = {spec["name"]: spec for spec in TOOL_SPECS}


class ToolInputError(ValueError):
    """A tool input that does not match the tool's schema."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """One tool call's result: the text the model reads, and whether it is an error."""

    name: str
    text: str
    is_error: bool
    incident: str | None = None
    seconds: float = 0.0
    error_type: str | None = None  # the error class for metrics ("ObjectNotFoundError", ...)


@dataclass(frozen=True)
class FindingView:
    """What the deterministic layer knows, for :data:`FINDING_TOOL`."""

    findings: Mapping[str, Finding] = field(default_factory=dict)
    incidents: Mapping[str, Incident] = field(default_factory=dict)

    def describe(self, fingerprint: str) -> JSON | None:
        incident = self.incidents.get(fingerprint)
        finding = self.findings.get(fingerprint) or (incident.finding if incident else None)
        if finding is None:
            return None
        data: JSON = {"finding": msgspec.to_builtins(finding.to_json())}
        data["causes"] = [
            other.fingerprint
            for other in self.findings.values()
            if other.caused_by is not None and other.caused_by.ref == finding.subject
        ]
        if incident is not None:
            data["status"] = incident.status.value
            data["open_since"] = incident.open_since.isoformat()
            data["cycles_seen"] = incident.cycles_seen
            if incident.root_cause is not None:
                data["remembered_root_cause"] = msgspec.to_builtins(incident.root_cause.to_json())
        return data


class Toolbox:
    """Tool specs plus dispatch; thread-safe as long as the lookup is."""

    def __init__(self, lookup: ClusterLookup | None, redact: Redact) -> None:
        self._lookup = lookup
        self._redact = redact
        self.redact = redact
        self.max_chars = lookup.max_chars if lookup is not None else 16_000

    @property
    def specs(self) -> list[JSON]:
        """Tool definitions for the Messages API (and the MCP server), in a stable order."""
        names = TOOL_NAMES if self._lookup is not None else frozenset({FINDING_TOOL})
        return [dict(spec) for spec in TOOL_SPECS if spec["name"] in names]

    def run(self, name: str, arguments: Any, view: FindingView | None = None) -> ToolOutcome:
        """Run one tool; never raises for anything the model or the cluster can cause."""
        started = time.monotonic()
        incident = arguments.get("incident") if isinstance(arguments, dict) else None
        try:
            checked = check_input(name, arguments)
            if name == FINDING_TOOL:
                text = self._finding(str(checked["fingerprint"]), view)
            else:
                text = self._cluster(name, checked)
        except ToolInputError as exc:
            return self._error(name, f"invalid input: {exc}", "ToolInputError", started, incident)
        except ClusterLookupError as exc:
            return self._error(name, str(exc), type(exc).__name__, started, incident)
        except ClusterError as exc:
            # An apiserver that refuses our credentials or is gone: the model can still answer.
            return self._error(
                name, f"cluster unavailable: {exc}", type(exc).__name__, started, incident
            )
        wrapped = self._wrap(name, text)
        return ToolOutcome(
            name, wrapped, False, str(incident) if incident else None, time.monotonic() - started
        )

    # --- pieces ---------------------------------------------------------------------------

    def _cluster(self, name: str, args: JSON) -> str:
        lookup = self._lookup
        if lookup is None:
            raise ToolInputError("cluster tools are not available here")
        call = _DISPATCH[name]
        result = call(lookup, args)
        return lookup.render(result)

    def _finding(self, fingerprint: str, view: FindingView | None) -> str:
        described = view.describe(fingerprint) if view is not None else None
        if described is None:
            raise ToolInputError(f"no finding or incident with fingerprint {fingerprint!r}")
        return render_capped(described, self.max_chars - 200)

    def _wrap(self, name: str, text: str) -> str:
        head = OUTPUT_OPEN.format(name=name)
        budget = self.max_chars - len(head) - len(OUTPUT_CLOSE)
        body = self._redact(text)
        if len(body) > budget:
            body = body[: max(0, budget - 20)] + "...[cut at cap]"
        return f"{head}{body}{OUTPUT_CLOSE}"

    def _error(
        self, name: str, message: str, error_type: str, started: float, incident: Any
    ) -> ToolOutcome:
        text = self._redact(message)[: self.max_chars]
        log.info("tool_call_error", tool=name, error_type=error_type, error=text[:300])
        return ToolOutcome(
            name,
            text,
            True,
            str(incident) if incident else None,
            time.monotonic() - started,
            error_type,
        )


# --- dispatch -----------------------------------------------------------------------------------


def _events(lookup: ClusterLookup, args: JSON) -> LookupResult:
    if args.get("name"):
        if not args.get("kind"):
            raise ToolInputError("kind is required with name")
        return lookup.events_for(str(args["kind"]), args.get("namespace"), str(args["name"]))
    if not args.get("namespace"):
        raise ToolInputError("give a namespace, or kind and name")
    return lookup.events_in(str(args["namespace"]))


_DISPATCH: dict[str, Callable[[ClusterLookup, JSON], LookupResult]] = {
    "get_object": lambda lk, a: lk.get_object(a["kind"], a.get("namespace"), a["name"]),
    "list_objects": lambda lk, a: lk.list_objects(
        a["kind"],
        a.get("namespace"),
        a.get("label_selector", ""),
        a.get("field_selector", ""),
        int(a.get("limit", 50)),
    ),
    "get_events": _events,
    "get_logs": lambda lk, a: lk.container_logs(
        a["namespace"],
        a["pod"],
        a.get("container", ""),
        previous=bool(a.get("previous", False)),
        tail_lines=int(a.get("tail_lines", 100)),
        since_seconds=a.get("since_seconds"),
    ),
    "rollout_history": lambda lk, a: lk.rollout_history(a["namespace"], a["deployment"]),
    "node_detail": lambda lk, a: lk.node_detail(a["name"]),
    "service_endpoints": lambda lk, a: lk.service_endpoints(a["namespace"], a["name"]),
    "configmap_keys": lambda lk, a: lk.configmap_keys(a["namespace"], a["name"]),
}

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
}


def check_input(name: str, arguments: Any) -> JSON:
    """``arguments`` checked against the tool's schema; :class:`ToolInputError` says why not."""
    spec = _SPECS_BY_NAME.get(name)
    if spec is None:
        raise ToolInputError(f"unknown tool {name!r}; tools: {', '.join(sorted(TOOL_NAMES))}")
    if not isinstance(arguments, dict):
        raise ToolInputError("the input must be a JSON object")
    schema = spec["input_schema"]
    properties: JSON = schema["properties"]
    for key in schema["required"]:
        if key not in arguments:
            raise ToolInputError(f"{key} is required")
    for key, value in arguments.items():
        if key not in properties:
            raise ToolInputError(f"unknown field {key!r}")
        wanted = _TYPES[properties[key]["type"]]
        if not isinstance(value, wanted) or (wanted == (int,) and isinstance(value, bool)):
            raise ToolInputError(f"{key} must be a {properties[key]['type']}")
    return dict(arguments)
