"""Label and field selectors with the apiserver's syntax, semantics and error messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


class SelectorError(ValueError):
    """A selector the apiserver would reject with 400 BadRequest."""


# --- label selectors -------------------------------------------------------------------------

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match objects without the label, as in Kubernetes.
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_label_selector(text: str) -> list[Requirement]:
    if not text.strip():
        return []
    requirements = []
    for part in _split_top_level(text):
        requirements.append(_parse_requirement(part))
    return requirements


def _parse_requirement(part: str) -> Requirement:
    if match := _SET_RE.match(part):
        values = [v.strip() for v in match.group(4).split(",")]
        for value in values:
            if not _VALUE_RE.match(value):
                raise SelectorError(f"unable to parse requirement: invalid label value: {value!r}")
        op = "in" if match.group(3) == "in" else "notin"
        return Requirement(match.group(1), op, frozenset(values))
    if match := _EQ_RE.match(part):
        op = "!=" if match.group(3) == "!=" else "="
        return Requirement(match.group(1), op, frozenset([match.group(4)]))
    if match := _EXISTS_RE.match(part):
        return Requirement(match.group(2), "!exists" if match.group(1) else "exists")
    raise SelectorError(
        f"unable to parse requirement: found '{part.strip()}', "
        "expected: in, notin, =, ==, !=, gt, lt"
    )


def labels_match(requirements: list[Requirement], obj: JSON) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(req.matches(labels) for req in requirements)


# --- field selectors -------------------------------------------------------------------------


def _path(*keys: str) -> Callable[[JSON], str]:
    def get(obj: JSON) -> str:
        value: Any = obj
        for key in keys:
            if not isinstance(value, dict):
                return ""
            value = value.get(key)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


def _bool_path(*keys: str) -> Callable[[JSON], str]:
    inner = _path(*keys)

    def get(obj: JSON) -> str:
        return inner(obj) or "false"

    return get


_COMMON: dict[str, Callable[[JSON], str]] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

FIELDS: dict[str, dict[str, Callable[[JSON], str]]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _bool_path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "nodes": {"spec.unschedulable": _bool_path("spec", "unschedulable")},
    "events": {
        "involvedObject.kind": _path("involvedObject", "kind"),
        "involvedObject.namespace": _path("involvedObject", "namespace"),
        "involvedObject.name": _path("involvedObject", "name"),
        "involvedObject.uid": _path("involvedObject", "uid"),
        "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
        "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
        "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "namespaces": {"status.phase": _path("status", "phase")},
    "replicasets": {"status.replicas": _path("status", "replicas")},
    "jobs": {"status.successful": _path("status", "succeeded")},
}


@dataclass(frozen=True)
class FieldRequirement:
    getter: Callable[[JSON], str]
    negate: bool
    value: str

    def matches(self, obj: JSON) -> bool:
        return (self.getter(obj) == self.value) != self.negate


def parse_field_selector(text: str, resource: str) -> list[FieldRequirement]:
    if not text.strip():
        return []
    supported = {**_COMMON, **FIELDS.get(resource, {})}
    requirements = []
    for part in text.split(","):
        if "!=" in part:
            field, value = part.split("!=", 1)
            negate = True
        elif "==" in part:
            field, value = part.split("==", 1)
            negate = False
        elif "=" in part:
            field, value = part.split("=", 1)
            negate = False
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field = field.strip()
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        requirements.append(FieldRequirement(supported[field], negate, value.strip()))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: JSON) -> bool:
    return all(req.matches(obj) for req in requirements)
