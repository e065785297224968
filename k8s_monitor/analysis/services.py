"""The services catalog: which workloads matter how much, and what is already known about them.

Read from ``SERVICES_FILE`` (YAML) once at start and validated strictly, so a typo stops the
daemon with the file, line and problem instead of silently paging nobody. Without a file, system
namespaces are P1 and everything else P2.

File shape::

    defaults:                    # optional
      priority: P2
      system_priority: P1
      startup_grace: 5m
      critical_components: [coredns, kube-dns, aws-node, kube-proxy, ebs-csi-controller,
                            ebs-csi-node]   # kube-system workloads whose trouble is critical
    services:
      - name: payments
        namespaces: [payments]   # and/or
        selector: {app: payments}
        priority: P0
        max_downtime: 5m
        startup_grace: 2m
        owner: team-payments
        channel: "#payments-oncall"
        runbook_url: https://wiki.example.com/payments   # an Alertmanager annotation
        known_issues:
          - pattern: "HighRestarts"          # regex on "<reason> <message>"
            reason: "leak fixed in 2.4, rollout pending"
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.errors import ConfigurationError

SETTING = "SERVICES_FILE"

SYSTEM_NAMESPACES = frozenset(
    {
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "ingress-nginx",
        "ingress",
        "nginx-ingress",
        "istio-system",
        "cert-manager",
        "monitoring",
        "amazon-cloudwatch",
        "karpenter",
    }
)
DEFAULT_STARTUP_GRACE = timedelta(minutes=5)
# kube-system workloads (and the DNS Service) every pod depends on: DNS, pod networking, service
# routing, volume attachment. Any one of them degraded breaks many workloads at once, so their
# warnings are critical by default.
CRITICAL_COMPONENTS_NAMESPACE = "kube-system"
CRITICAL_COMPONENTS = (
    "aws-node",
    "coredns",
    "ebs-csi-controller",
    "ebs-csi-node",
    "kube-dns",
    "kube-proxy",
)
DEFAULT_SERVICE_NAME = "default"
SYSTEM_SERVICE_NAME = "system"


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> timedelta:
    """``90`` (seconds), ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"expected a duration like 5m or 1h30m, got {value!r}")


class KnownIssue(BaseModel):
    """A suppression: findings matching ``pattern`` are kept as info, never notified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1)
    reason: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from exc
        return value

    def matches(self, finding: Finding) -> bool:
        return re.search(self.pattern, f"{finding.reason} {finding.message}") is not None


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    namespaces: tuple[str, ...] = ()
    selector: dict[str, str] = Field(default_factory=dict)
    priority: Priority = Priority.P2
    max_downtime: timedelta | None = None
    startup_grace: timedelta = DEFAULT_STARTUP_GRACE
    owner: str | None = None
    channel: str | None = None
    runbook_url: str | None = Field(default=None, pattern=r"^https?://")
    known_issues: tuple[KnownIssue, ...] = ()

    @field_validator("namespaces", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("max_downtime", "startup_grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    def matches(self, namespace: str, labels: dict[str, str]) -> bool:
        if not self.namespaces and not self.selector:
            return False
        if self.namespaces and namespace not in self.namespaces:
            return False
        return all(labels.get(key) == value for key, value in self.selector.items())

    def known_issue_for(self, finding: Finding) -> KnownIssue | None:
        return next((k for k in self.known_issues if k.matches(finding)), None)


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: Priority = Priority.P2
    system_priority: Priority = Priority.P1
    system_namespaces: tuple[str, ...] = tuple(sorted(SYSTEM_NAMESPACES))
    startup_grace: timedelta = DEFAULT_STARTUP_GRACE
    critical_components: tuple[str, ...] = CRITICAL_COMPONENTS

    @field_validator("startup_grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class ServiceCatalog(BaseModel):
    """Services in file order; the first that matches an object wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: Defaults = Field(default_factory=Defaults)
    services: tuple[Service, ...] = ()

    @field_validator("services")
    @classmethod
    def _unique_names(cls, value: tuple[Service, ...]) -> tuple[Service, ...]:
        seen: set[str] = set()
        for service in value:
            if service.name in seen:
                raise ValueError(f"service name {service.name!r} appears twice")
            seen.add(service.name)
        return value

    def match(self, namespace: str, labels: dict[str, str] | None = None) -> Service:
        """The service an object belongs to; a synthetic default when none is declared."""
        labels = labels or {}
        for service in self.services:
            if service.matches(namespace, labels):
                return service
        return self._fallback(namespace)

    def is_critical_component(self, namespace: str, name: str) -> bool:
        """A kube-system component whose degradation is critical (``critical_components``)."""
        return (
            namespace == CRITICAL_COMPONENTS_NAMESPACE and name in self.defaults.critical_components
        )

    def by_name(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def service_for(self, finding: Finding) -> Service:
        """The service of a finding: the one ``analyze`` recorded, else by namespace."""
        recorded = finding.evidence.get("service")
        if isinstance(recorded, str):
            service = self.by_name(recorded)
            if service is not None:
                return service
        return self.match(finding.subject.namespace)

    def _fallback(self, namespace: str) -> Service:
        # Cluster-scoped subjects (nodes, the monitor itself) are infrastructure: system priority.
        if not namespace or namespace in self.defaults.system_namespaces:
            return Service(
                name=SYSTEM_SERVICE_NAME,
                priority=self.defaults.system_priority,
                startup_grace=self.defaults.startup_grace,
            )
        return Service(
            name=DEFAULT_SERVICE_NAME,
            priority=self.defaults.priority,
            startup_grace=self.defaults.startup_grace,
        )


# --- loading with line numbers ---------------------------------------------------------------


class _LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _LineList(list[Any]):
    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _line_of(data: Any, location: tuple[int | str, ...]) -> int:
    """The deepest line the error location reaches in the parsed document."""
    line = getattr(data, "line", 1)
    node = data
    for part in location:
        if isinstance(node, _LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _LineList) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def parse_catalog(text: str, source: str = "<string>") -> ServiceCatalog:
    """Parse and validate catalog YAML; errors name ``source``, the line and the problem."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(
            SETTING, f"{source}: line {line}: invalid YAML: {problem}"
        ) from exc
    if data is None:
        return ServiceCatalog()
    if not isinstance(data, dict):
        raise ConfigurationError(SETTING, f"{source}: line 1: expected a mapping at the top level")
    try:
        return ServiceCatalog.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        location = tuple(error.get("loc", ()))
        where = ".".join(str(p) for p in location) or "document"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        line = _line_of(data, location)
        raise ConfigurationError(SETTING, f"{source}: line {line}: {where}: {message}") from exc


def load_catalog(path: Path | None) -> ServiceCatalog:
    """The catalog from ``path``; the defaults when ``path`` is None."""
    if path is None:
        return ServiceCatalog()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(SETTING, f"{path}: cannot be read: {exc}") from exc
    return parse_catalog(text, str(path))
