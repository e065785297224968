"""What the API server reads: a cluster state at one step, as ordered collections of objects.

Scenario states are small lists; generated clusters produce items by index on demand. Both sit
behind the same two protocols so the server never knows (or materialises) the difference.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

JSON = dict[str, Any]


@dataclass(frozen=True)
class ContainerLogs:
    """The log text kubelet would serve for one container, or why it would refuse."""

    current: str | None
    previous: str | None = None
    waiting_reason: str | None = None  # set when the container never started (no current log)


class Collection(Protocol):
    """Objects of one resource, in apiserver key order (namespace, then name)."""

    def __len__(self) -> int: ...

    def items(self, start: int, stop: int) -> Iterator[JSON]: ...

    def raw_items(self, start: int, stop: int) -> Iterator[bytes]:
        """The same objects as JSON bytes (generated clusters make these without a dict)."""
        ...

    def namespace_range(self, namespace: str) -> tuple[int, int]: ...

    def find(self, namespace: str | None, name: str) -> JSON | None: ...


class ClusterView(Protocol):
    """One step of a cluster, frozen: every page of a paged list reads the same view."""

    @property
    def resource_version(self) -> int: ...

    @property
    def now(self) -> datetime: ...

    def collection(self, resource: str) -> Collection | None:
        """``None`` when the resource is not served (metrics without metrics-server)."""
        ...

    def logs(self, namespace: str, pod: str, container: str) -> ContainerLogs | None: ...


class ClusterSource(Protocol):
    """A scenario or a generated cluster: the thing a ``SimServer`` serves."""

    @property
    def name(self) -> str: ...

    @property
    def step_names(self) -> Sequence[str]: ...

    @property
    def step_seconds(self) -> float: ...

    @property
    def fixed_start(self) -> datetime | None: ...

    @property
    def has_metrics(self) -> bool: ...

    @property
    def version_info(self) -> JSON: ...

    def view(self, step: int, now: datetime) -> ClusterView: ...


def _key(obj: JSON) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return (meta.get("namespace", ""), meta.get("name", ""))


class ListCollection:
    """A materialised, sorted list (scenario states are tens to hundreds of objects)."""

    def __init__(self, objects: list[JSON]) -> None:
        self._objects = sorted(objects, key=_key)
        self._keys = [_key(obj) for obj in self._objects]
        self._namespaces = [k[0] for k in self._keys]

    def __len__(self) -> int:
        return len(self._objects)

    def items(self, start: int, stop: int) -> Iterator[JSON]:
        return iter(self._objects[start:stop])

    def raw_items(self, start: int, stop: int) -> Iterator[bytes]:
        return (orjson.dumps(obj) for obj in self._objects[start:stop])

    def namespace_range(self, namespace: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self._namespaces, namespace)
        hi = bisect.bisect_right(self._namespaces, namespace)
        return lo, hi

    def find(self, namespace: str | None, name: str) -> JSON | None:
        key = (namespace or "", name)
        index = bisect.bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            return self._objects[index]
        return None


@dataclass
class StaticView:
    """A fully rendered scenario step."""

    resource_version: int
    now: datetime
    collections: dict[str, ListCollection] = field(default_factory=dict)
    container_logs: dict[tuple[str, str, str], ContainerLogs] = field(default_factory=dict)

    def collection(self, resource: str) -> Collection | None:
        return self.collections.get(resource)

    def logs(self, namespace: str, pod: str, container: str) -> ContainerLogs | None:
        return self.container_logs.get((namespace, pod, container))
