"""Generated clusters up to the Kubernetes scalability envelope, produced page by page.

Nothing is materialised: object ``i`` of a resource is computed from ``i`` when a page asks for
it, by filling a precomputed JSON template (bytes with placeholders) - no dict building, no
serialisation per object - so a 150,000-pod cluster costs the memory of one page plus a
bounded cache of objects already made (``CACHE_BYTES``).

Layout: pods are contiguous per namespace (apiserver key order), ten pods per Deployment, one
ReplicaSet per Deployment; pod ``i`` runs on node ``i % nodes``. About 1% of pods are unhealthy
by default, ``unhealthy_every`` sets it (CrashLoopBackOff, ImagePullBackOff, Pending, in turn),
each with a Warning event, and a few nodes report MemoryPressure or NotReady.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.view import ContainerLogs, ListCollection

JSON = dict[str, Any]

PODS_PER_DEPLOYMENT = 10
UNHEALTHY_EVERY = 100
_PLACEHOLDER = re.compile(rb'"@@I:(\w+)@@"|@@S:(\w+)@@')
_KINDS = ("running", "crashloop", "imagepull", "pending")

CRASH_LOG = (
    "{time} INFO  starting worker pool size=8\n"
    "{time} ERROR unhandled exception in main loop\n"
    "Traceback (most recent call last):\n"
    '  File "/app/worker.py", line 57, in run\n'
    "    conn = redis.Redis.from_url(settings.redis_url).ping()\n"
    "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.\n"
)


def _s(name: str) -> str:
    return f"@@S:{name}@@"


def _i(name: str) -> str:
    return f"@@I:{name}@@"


class _Template:
    """JSON bytes split at placeholders; ``fill`` joins the parts with per-object values."""

    def __init__(self, obj: JSON) -> None:
        raw = orjson.dumps(obj)
        self.parts: list[bytes] = []
        self.names: list[str] = []
        position = 0
        for match in _PLACEHOLDER.finditer(raw):
            self.parts.append(raw[position : match.start()])
            if match.group(1):
                self.names.append("I:" + match.group(1).decode())
            else:
                self.names.append("S:" + match.group(2).decode())
            position = match.end()
        self.parts.append(raw[position:])

    def bind(self, values: dict[str, bytes]) -> _Template:
        """A template with ``values`` filled in and only the other placeholders left."""
        bound = object.__new__(_Template)
        segments: list[list[bytes]] = [[self.parts[0]]]
        names: list[str] = []
        for name, part in zip(self.names, self.parts[1:], strict=True):
            if name in values:
                segments[-1] += (values[name], part)
            else:
                names.append(name)
                segments.append([part])
        bound.parts = [b"".join(segment) for segment in segments]
        bound.names = names
        return bound

    def fill(self, values: dict[str, bytes]) -> bytes:
        out: list[bytes] = [b""] * (2 * len(self.names) + 1)
        out[0::2] = self.parts
        out[1::2] = [values[name] for name in self.names]
        return b"".join(out)


def _str(value: str) -> bytes:
    """A value for an in-string placeholder (names and numbers only: no escaping needed)."""
    return value.encode()


# Objects already made are kept up to this many bytes per collection, as the apiserver serves
# lists from its in-memory watch cache; past it they are made per request, so a 150,000-pod
# cluster costs this budget plus one page, and a 10,000-pod one is made only once.
CACHE_BYTES = 64 * 1024 * 1024


class GeneratedCollection:
    """Objects ``0..count-1`` of one resource, each made on demand by ``make(i)``."""

    def __init__(
        self,
        count: int,
        make: Callable[[int], bytes],
        namespace_range: Callable[[str], tuple[int, int]],
        index_of: Callable[[str | None, str], int | None],
    ) -> None:
        self._count = count
        self._make = make
        self._namespace_range = namespace_range
        self._index_of = index_of
        # Filled by concurrent requests without a lock: a lost update only costs a re-make, and
        # the budget is approximate (a simulator's, not a promise to a user).
        self._made: dict[int, bytes] = {}
        self._made_bytes = 0

    def __len__(self) -> int:
        return self._count

    def raw_items(self, start: int, stop: int) -> Iterator[bytes]:
        made = self._made
        for index in range(max(start, 0), min(stop, self._count)):
            raw = made.get(index)
            if raw is None:
                raw = self._make(index)
                if self._made_bytes < CACHE_BYTES:
                    made[index] = raw
                    self._made_bytes += len(raw)
            yield raw

    def items(self, start: int, stop: int) -> Iterator[JSON]:
        for raw in self.raw_items(start, stop):
            yield orjson.loads(raw)

    def namespace_range(self, namespace: str) -> tuple[int, int]:
        return self._namespace_range(namespace)

    def find(self, namespace: str | None, name: str) -> JSON | None:
        index = self._index_of(namespace, name)
        if index is None or not 0 <= index < self._count:
            return None
        obj: JSON = orjson.loads(self._make(index))
        meta = obj.get("metadata", {})
        if meta.get("name") != name or meta.get("namespace", None) != namespace:
            return None
        return obj


@dataclass(frozen=True)
class _Layout:
    pods: int
    nodes: int
    namespaces: int
    seed: int
    every: int = UNHEALTHY_EVERY  # one pod in ``every`` is unhealthy

    @functools.cached_property
    def per_namespace(self) -> int:
        return max(1, math.ceil(self.pods / self.namespaces))

    def namespace_name(self, k: int) -> str:
        return f"team-{k:04d}"

    def namespace_index(self, name: str) -> int | None:
        if not name.startswith("team-") or not name[5:].isdigit():
            return None
        k = int(name[5:])
        return k if 0 <= k < self.namespaces else None

    def pod_range(self, namespace: str) -> tuple[int, int]:
        k = self.namespace_index(namespace)
        if k is None:
            return (0, 0)
        lo = min(self.pods, k * self.per_namespace)
        return lo, min(self.pods, lo + self.per_namespace)

    @functools.cached_property
    def deployments_per_namespace(self) -> int:
        return math.ceil(self.per_namespace / PODS_PER_DEPLOYMENT)

    def deployment_count(self) -> int:
        full, rest = divmod(self.pods, self.per_namespace)
        per = self.deployments_per_namespace
        return full * per + math.ceil(rest / PODS_PER_DEPLOYMENT)

    def deployment_of_pod(self, i: int) -> tuple[int, int, int]:
        """(namespace k, deployment number within it, global deployment index)."""
        k, j = divmod(i, self.per_namespace)
        d = j // PODS_PER_DEPLOYMENT
        return k, d, k * self.deployments_per_namespace + d

    def deployment_range(self, namespace: str) -> tuple[int, int]:
        k = self.namespace_index(namespace)
        if k is None:
            return (0, 0)
        per = self.deployments_per_namespace
        return min(k * per, self.deployment_count()), min((k + 1) * per, self.deployment_count())

    def pod_kind(self, i: int) -> str:
        if i % self.every != self.seed % self.every:
            return "running"
        return _KINDS[1 + (i // self.every) % 3]

    def unhealthy_count(self) -> int:
        offset = self.seed % self.every
        return 0 if self.pods <= offset else (self.pods - 1 - offset) // self.every + 1

    def unhealthy_pod(self, e: int) -> int:
        return e * self.every + self.seed % self.every

    def node_ip(self, n: int) -> str:
        return f"10.{n // 62500 % 250 + 1}.{n // 250 % 250}.{n % 250 + 1}"

    def node_name(self, n: int) -> str:
        """EKS style: the name spells the node's IP."""
        return f"ip-{self.node_ip(n).replace('.', '-')}.ec2.internal"

    def node_index(self, name: str) -> int | None:
        match = re.fullmatch(r"ip-10-(\d+)-(\d+)-(\d+)\.ec2\.internal", name)
        if not match:
            return None
        a, b, c = (int(x) for x in match.groups())
        return (a - 1) * 62500 + b * 250 + c - 1

    def node_condition(self, n: int) -> str:
        if n % 1000 == 13:
            return "NotReady"
        if n % 500 == 7:
            return "MemoryPressure"
        return "Ready"


class GeneratedCluster:
    """A ``ClusterSource`` of ``pods`` pods on ``nodes`` nodes, with one step."""

    def __init__(
        self,
        pods: int,
        nodes: int,
        seed: int = 1,
        namespaces: int | None = None,
        metrics: bool = False,
        unhealthy_every: int = UNHEALTHY_EVERY,
    ) -> None:
        if pods < 0 or nodes < 1 or unhealthy_every < 1:
            raise ValueError(
                "a generated cluster needs pods >= 0, nodes >= 1 and unhealthy_every >= 1"
            )
        ns_count = namespaces or max(1, min(500, pods // 1000 + 1))
        self.layout = _Layout(pods, nodes, ns_count, seed, unhealthy_every)
        self._metrics = metrics
        self._name = f"generated-{pods}-pods-{nodes}-nodes"

    @property
    def name(self) -> str:
        return self._name

    @property
    def step_names(self) -> Sequence[str]:
        return ["generated"]

    @property
    def step_seconds(self) -> float:
        return 900.0

    @property
    def fixed_start(self) -> datetime | None:
        return None

    @property
    def has_metrics(self) -> bool:
        return self._metrics

    @property
    def version_info(self) -> JSON:
        return {
            "major": "1",
            "minor": "30",
            "gitVersion": "v1.30.5-eks-ce1d5eb",
            "gitCommit": "1e2a5b3c9f0d4e6a8b7c5d3e1f0a9b8c7d6e5f4a",
            "gitTreeState": "clean",
            "buildDate": "2024-10-10T20:11:32Z",
            "goVersion": "go1.22.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def view(self, step: int, now: datetime) -> GeneratedView:
        return GeneratedView(self.layout, now, 1_000_000 + step * 100_000, self._metrics)


class GeneratedView:
    """One frozen moment of a generated cluster."""

    def __init__(
        self, layout: _Layout, now: datetime, resource_version: int, metrics: bool = False
    ) -> None:
        self.layout = layout
        self._now = now
        self._rv = resource_version
        self._rv_bytes = _str(str(resource_version - 7))
        self._created = _str(o.ts(now - timedelta(days=3)))
        self._crash_since = now - timedelta(minutes=40)
        restarts, since_crash = o.crash_restarts(40 * 60)
        self._restarts = _str(str(restarts))
        self._last_crash = _str(o.ts(now - timedelta(seconds=since_crash)))
        self._last_start = _str(o.ts(now - timedelta(seconds=since_crash + 4)))
        self._pod_templates = {kind: _Template(_pod_template(kind)) for kind in _KINDS}
        self._node_templates = {
            cond: _Template(_node_template(cond))
            for cond in ("Ready", "MemoryPressure", "NotReady")
        }
        self._event_template = _Template(_event_template())
        self._deploy_template = _Template(_deployment_template())
        self._rs_template = _Template(_replicaset_template())
        # Bounded by the node count (<= 5,000), not the pod count.
        self._node_names = [layout.node_name(n).encode() for n in range(layout.nodes)]
        self._node_ips = [layout.node_ip(n).encode() for n in range(layout.nodes)]
        self._uid_prefix_pod = _fast_uid("pod", 0, layout.seed)[:-12].encode()
        # Ten pods share a Deployment: its names are computed once (per view, bounded).
        self._workload_bytes = functools.lru_cache(maxsize=1024)(self._compute_workload_bytes)
        self._pod_template = functools.lru_cache(maxsize=1024)(self._bind_pod_template)
        self._collections = self._build_collections()
        if metrics:
            self._add_metrics()

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def now(self) -> datetime:
        return self._now

    def collection(self, resource: str) -> GeneratedCollection | ListCollection | None:
        if resource.startswith("metrics:"):
            return self._collections.get(resource)
        return self._collections.get(resource, _EMPTY)

    def _add_metrics(self) -> None:
        """metrics.k8s.io for every node and pod (an approximation: metrics-server skips pods
        whose containers are not running)."""
        layout = self.layout
        stamp = _str(o.ts(self._now - timedelta(seconds=11)))
        node_template = _Template(_node_metrics_template()).bind(
            {"S:STAMP": stamp, "S:CREATED": _str(o.ts(self._now))}
        )
        pod_template = _Template(_pod_metrics_template()).bind(
            {"S:STAMP": stamp, "S:CREATED": _str(o.ts(self._now))}
        )

        def node_metrics(n: int) -> bytes:
            return node_template.fill(
                {
                    "S:NAME": self._node_names[n],
                    "S:CPU": b"%dn" % (400_000_000 + n * 7919 % 3_000_000_000),
                    "S:MEMORY": b"%dKi" % (8_000_000 + n * 104_729 % 16_000_000),
                }
            )

        def pod_metrics(i: int) -> bytes:
            k, d, g = layout.deployment_of_pod(i)
            namespace, deployment, replicaset, template_hash, _ = self._workload_bytes(k, d, g)
            return pod_template.fill(
                {
                    "S:NAME": replicaset + b"-" + _index_suffix(i).encode(),
                    "S:NS": namespace,
                    "S:APP": deployment,
                    "S:HASH": template_hash,
                    "S:CPU": b"%dn" % (1_000_000 + i * 7919 % 90_000_000),
                    "S:MEMORY": b"%dKi" % (20_000 + i * 104_729 % 200_000),
                }
            )

        self._collections["metrics:nodes"] = GeneratedCollection(
            layout.nodes,
            node_metrics,
            lambda _namespace: (0, layout.nodes),
            lambda _namespace, name: layout.node_index(name),
        )
        self._collections["metrics:pods"] = GeneratedCollection(
            layout.pods, pod_metrics, layout.pod_range, self._pod_index
        )

    def logs(self, namespace: str, pod: str, container: str) -> ContainerLogs | None:
        index = self._pod_index(namespace, pod)
        if index is None:
            return None
        kind = self.layout.pod_kind(index)
        if kind == "crashloop":
            text = CRASH_LOG.replace("{time}", o.ts(self._crash_since))
            return ContainerLogs(current=text, previous=text)
        if kind == "imagepull":
            return ContainerLogs(current=None, waiting_reason="trying and failing to pull image")
        if kind == "pending":
            return ContainerLogs(current=None, waiting_reason="ContainerCreating")
        stamp = o.ts(self._now)
        return ContainerLogs(current=f'{stamp} INFO http: "GET /healthz HTTP/1.1" 200 2 1ms\n')

    # --- collections -----------------------------------------------------------------------

    def _build_collections(self) -> dict[str, GeneratedCollection | ListCollection]:
        layout = self.layout

        def all_nodes(_namespace: str) -> tuple[int, int]:
            return (0, layout.nodes)

        def node_index(_namespace: str | None, name: str) -> int | None:
            return layout.node_index(name)

        return {
            "pods": GeneratedCollection(layout.pods, self.pod, layout.pod_range, self._pod_index),
            "nodes": GeneratedCollection(layout.nodes, self.node, all_nodes, node_index),
            "events": GeneratedCollection(
                layout.unhealthy_count(), self.event, self._event_range, self._event_index
            ),
            "deployments": GeneratedCollection(
                layout.deployment_count(),
                self.deployment,
                layout.deployment_range,
                self._deployment_index,
            ),
            "replicasets": GeneratedCollection(
                layout.deployment_count(),
                self.replicaset,
                layout.deployment_range,
                self._replicaset_index,
            ),
            "namespaces": ListCollection([self._namespace(k) for k in range(layout.namespaces)]),
        }

    def _pod_names(self, i: int) -> tuple[str, str, str, str]:
        """(namespace, deployment, replicaset, pod) names of pod ``i``."""
        k, d, _ = self.layout.deployment_of_pod(i)
        namespace, deployment, replicaset = _workload_names(self.layout.namespace_name(k), d)
        return namespace, deployment, replicaset, f"{replicaset}-{_index_suffix(i)}"

    def _pod_index(self, namespace: str | None, name: str) -> int | None:
        if namespace is None:
            return None
        parts = name.rsplit("-", 1)
        if len(parts) != 2:
            return None
        index = _suffix_index(parts[1])
        if index is None:
            return None
        if not self.layout.pod_range(namespace)[0] <= index < self.layout.pod_range(namespace)[1]:
            return None
        return index

    def pod(self, i: int) -> bytes:
        layout = self.layout
        k, d, g = layout.deployment_of_pod(i)
        template = self._pod_template(k, d, g, layout.pod_kind(i))
        n = i % layout.nodes
        values = {
            "S:NAME": self._workload_bytes(k, d, g)[2] + b"-" + _index_suffix(i).encode(),
            "S:UID": self._uid_prefix_pod + b"%012x" % i,
            "S:NODE": self._node_names[n],
            "S:IP": b"10.%d.%d.%d" % (100 + i // 62500 % 100, i // 250 % 250, i % 250 + 2),
            "S:HOSTIP": self._node_ips[n],
        }
        return template.fill(values)

    def _bind_pod_template(self, k: int, d: int, g: int, kind: str) -> _Template:
        """The pod template with everything its Deployment decides already filled in."""
        namespace, deployment, replicaset, template_hash, rs_uid = self._workload_bytes(k, d, g)
        return self._pod_templates[kind].bind(
            {
                "S:NS": namespace,
                "S:RSUID": rs_uid,
                "S:APP": deployment,
                "S:RS": replicaset,
                "S:HASH": template_hash,
                "S:CREATED": self._created,
                "S:RV": self._rv_bytes,
                "I:RESTARTS": self._restarts,
                "S:LASTCRASH": self._last_crash,
                "S:LASTSTART": self._last_start,
            }
        )

    def _compute_workload_bytes(
        self, k: int, d: int, g: int
    ) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        namespace, deployment, replicaset = _workload_names(self.layout.namespace_name(k), d)
        return (
            namespace.encode(),
            deployment.encode(),
            replicaset.encode(),
            replicaset.rsplit("-", 1)[1].encode(),
            _fast_uid("rs", g, self.layout.seed).encode(),
        )

    def node(self, n: int) -> bytes:
        name = self.layout.node_name(n)
        values = {
            "S:NAME": _str(name),
            "S:UID": _str(_fast_uid("node", n, self.layout.seed)),
            "S:ZONE": _str("us-east-1" + "abc"[n % 3]),
            "S:IP": self._node_ips[n],
            "S:CREATED": self._created,
            "S:RV": self._rv_bytes,
        }
        return self._node_templates[self.layout.node_condition(n)].fill(values)

    def _event_range(self, namespace: str) -> tuple[int, int]:
        lo, hi = self.layout.pod_range(namespace)
        every = self.layout.every
        offset = self.layout.seed % every
        first = max(0, math.ceil((lo - offset) / every))
        last = max(0, math.ceil((hi - offset) / every))
        return first, min(last, self.layout.unhealthy_count())

    def _event_index(self, namespace: str | None, name: str) -> int | None:
        pod_index = self._pod_index(namespace, name.split(".")[0])
        if pod_index is None or self.layout.pod_kind(pod_index) == "running":
            return None
        return pod_index // self.layout.every

    def event(self, e: int) -> bytes:
        i = self.layout.unhealthy_pod(e)
        namespace, _, _, pod = self._pod_names(i)
        kind = self.layout.pod_kind(i)
        uid = _fast_uid("pod", i, self.layout.seed)
        if kind == "crashloop":
            reason, source = "BackOff", "kubelet"
            message = f"Back-off restarting failed container app in pod {pod}_{namespace}({uid})"
        elif kind == "imagepull":
            reason, source = "Failed", "kubelet"
            message = "Error: ImagePullBackOff"
        else:
            reason, source = "FailedScheduling", "default-scheduler"
            message = "0/5000 nodes are available: 5000 Insufficient memory."
        values = {
            "S:NAME": _str(f"{pod}.{o.name_suffix(16, pod)}"),
            "S:NS": _str(namespace),
            "S:UID": _str(_fast_uid("event", e, self.layout.seed)),
            "S:POD": _str(pod),
            "S:PODUID": _str(uid),
            "S:REASON": _str(reason),
            "S:MESSAGE": _str(message),
            "S:SOURCE": _str(source),
            "S:FIRST": _str(o.ts(self._crash_since)),
            "S:LAST": _str(o.ts(self._now - timedelta(seconds=30))),
            "I:COUNT": _str(str(12 + e % 40)),
            "S:RV": self._rv_bytes,
        }
        return self._event_template.fill(values)

    def _deployment_position(self, g: int) -> tuple[int, int, int]:
        k, d = divmod(g, self.layout.deployments_per_namespace)
        return k, d, g

    def _deployment_names(self, g: int) -> tuple[str, str, int, int]:
        """(namespace, name, first pod index, replicas) of global deployment ``g``."""
        layout = self.layout
        per = layout.deployments_per_namespace
        k, d = divmod(g, per)
        first = k * layout.per_namespace + d * PODS_PER_DEPLOYMENT
        end = min(first + PODS_PER_DEPLOYMENT, (k + 1) * layout.per_namespace, layout.pods)
        return layout.namespace_name(k), f"svc-{d:04d}", first, max(0, end - first)

    def _deployment_index(self, namespace: str | None, name: str) -> int | None:
        k = self.layout.namespace_index(namespace or "")
        if k is None or not name.startswith("svc-") or not name[4:].isdigit():
            return None
        return k * self.layout.deployments_per_namespace + int(name[4:])

    def _replicaset_index(self, namespace: str | None, name: str) -> int | None:
        return self._deployment_index(namespace, name.rsplit("-", 1)[0])

    def _workload_values(self, g: int) -> dict[str, bytes]:
        namespace, name, first, replicas = self._deployment_names(g)
        ready = sum(
            1 for i in range(first, first + replicas) if self.layout.pod_kind(i) == "running"
        )
        return {
            "S:NAME": _str(name),
            "S:NS": _str(namespace),
            "S:UID": _str(_fast_uid("deploy", g, self.layout.seed)),
            "S:RSUID": self._workload_bytes(*self._deployment_position(g))[4],
            "S:HASH": _str(o.name_suffix(10, namespace, name)),
            "I:REPLICAS": _str(str(replicas)),
            "I:READY": _str(str(ready)),
            "I:UNAVAILABLE": _str(str(replicas - ready)),
            "S:AVAILABLE": b"True" if ready >= replicas - replicas // 4 else b"False",
            "S:CREATED": self._created,
            "S:RV": self._rv_bytes,
        }

    def deployment(self, g: int) -> bytes:
        return self._deploy_template.fill(self._workload_values(g))

    def replicaset(self, g: int) -> bytes:
        return self._rs_template.fill(self._workload_values(g))

    def _namespace(self, k: int) -> JSON:
        name = self.layout.namespace_name(k)
        return {
            "metadata": {
                "name": name,
                "uid": o.make_uid("Namespace", name),
                "resourceVersion": str(self._rv - 9),
                "creationTimestamp": o.ts(self._now - timedelta(days=30)),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }


_EMPTY = ListCollection([])


@functools.lru_cache(maxsize=4096)
def _workload_names(namespace: str, d: int) -> tuple[str, str, str]:
    deployment = f"svc-{d:04d}"
    return namespace, deployment, f"{deployment}-{o.name_suffix(10, namespace, deployment)}"


_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _index_suffix(i: int) -> str:
    """A five-character, name-safe encoding of the pod index (so ``find`` can invert it)."""
    return _SUFFIX_HIGH[i // 729 % 19683] + _SUFFIX_LOW[i % 729]


_SUFFIX_LOW = [a + b for a in _SUFFIX_ALPHABET for b in _SUFFIX_ALPHABET]
_SUFFIX_HIGH = [a + bc for a in _SUFFIX_ALPHABET for bc in _SUFFIX_LOW]


def _suffix_index(text: str) -> int | None:
    if len(text) != 5 or any(c not in _SUFFIX_ALPHABET for c in text):
        return None
    value = 0
    for char in text:
        value = value * len(_SUFFIX_ALPHABET) + _SUFFIX_ALPHABET.index(char)
    return value


def _fast_uid(kind: str, index: int, seed: int) -> str:
    """A uid-shaped, unique, deterministic string (uuid5 per object would dominate the cost)."""
    tag = sum(kind.encode()) % 4096
    high, middle, low = index >> 48 & 0xFFF, index >> 36 & 0xFFF, index & 0xFFFFFFFFF
    return f"{seed % 65536:08x}-{tag:04x}-4{high:03x}-8{middle:03x}-{low:012x}"


# --- templates -------------------------------------------------------------------------------


def _managed_fields(created: str) -> list[JSON]:
    """The managedFields a controller-made pod carries: large, and what makes real pods heavy."""
    return [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": created,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {
                    "f:generateName": {},
                    "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                    "f:ownerReferences": {".": {}, 'k:{"uid":"' + _s("RSUID") + '"}': {}},
                },
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"app"}': {
                            ".": {},
                            "f:env": {
                                ".": {},
                                'k:{"name":"LOG_LEVEL"}': {".": {}, "f:name": {}, "f:value": {}},
                            },
                            "f:image": {},
                            "f:imagePullPolicy": {},
                            "f:livenessProbe": {
                                ".": {},
                                "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}},
                            },
                            "f:name": {},
                            "f:ports": {
                                ".": {},
                                'k:{"containerPort":8080,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                    "f:name": {},
                                    "f:protocol": {},
                                },
                            },
                            "f:readinessProbe": {
                                ".": {},
                                "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}},
                            },
                            "f:resources": {
                                ".": {},
                                "f:limits": {".": {}, "f:memory": {}},
                                "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}},
                            },
                            "f:terminationMessagePath": {},
                            "f:terminationMessagePolicy": {},
                        }
                    },
                    "f:dnsPolicy": {},
                    "f:enableServiceLinks": {},
                    "f:restartPolicy": {},
                    "f:schedulerName": {},
                    "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {},
                },
            },
        },
        {
            "manager": "kubelet",
            "operation": "Update",
            "apiVersion": "v1",
            "time": created,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:status": {
                    "f:conditions": {
                        'k:{"type":"ContainersReady"}': {
                            ".": {},
                            "f:lastProbeTime": {},
                            "f:lastTransitionTime": {},
                            "f:status": {},
                            "f:type": {},
                        },
                        'k:{"type":"Initialized"}': {
                            ".": {},
                            "f:lastProbeTime": {},
                            "f:lastTransitionTime": {},
                            "f:status": {},
                            "f:type": {},
                        },
                        'k:{"type":"PodReadyToStartContainers"}': {
                            ".": {},
                            "f:lastProbeTime": {},
                            "f:lastTransitionTime": {},
                            "f:status": {},
                            "f:type": {},
                        },
                        'k:{"type":"Ready"}': {
                            ".": {},
                            "f:lastProbeTime": {},
                            "f:lastTransitionTime": {},
                            "f:status": {},
                            "f:type": {},
                        },
                    },
                    "f:containerStatuses": {},
                    "f:hostIP": {},
                    "f:hostIPs": {},
                    "f:phase": {},
                    "f:podIP": {},
                    "f:podIPs": {".": {}, 'k:{"ip":"' + _s("IP") + '"}': {".": {}, "f:ip": {}}},
                    "f:startTime": {},
                },
            },
            "subresource": "status",
        },
    ]


def _pod_template(kind: str) -> JSON:
    created = _s("CREATED")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/" + _s("APP") + ":1.4.2"
    container = o.container_spec("app", image, port=8080, cpu="100m", memory="256Mi")
    spec = o.pod_spec([container], None if kind == "pending" else _s("NODE"))
    meta: JSON = {
        "name": _s("NAME"),
        "generateName": _s("RS") + "-",
        "namespace": _s("NS"),
        "uid": _s("UID"),
        "resourceVersion": _s("RV"),
        "creationTimestamp": created,
        "labels": {"app": _s("APP"), "pod-template-hash": _s("HASH")},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": _s("RS"),
                "uid": _s("RSUID"),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "managedFields": _managed_fields(created),
    }
    return {"metadata": meta, "spec": spec, "status": _pod_status_template(kind, image)}


def _pod_status_template(kind: str, image: str) -> JSON:
    created = _s("CREATED")

    def cond(
        type_: str, status: str, reason: str | None = None, message: str | None = None
    ) -> JSON:
        c: JSON = {
            "type": type_,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": created,
        }
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c

    if kind == "pending":
        return {
            "phase": "Pending",
            "conditions": [
                cond(
                    "PodScheduled",
                    "False",
                    "Unschedulable",
                    "0/5000 nodes are available: 5000 Insufficient memory.",
                )
            ],
            "qosClass": "Burstable",
        }
    ready = kind == "running"
    not_ready = ("ContainersNotReady", "containers with unready status: [app]")
    container_id = "containerd://" + _s("UID")
    status: JSON = {
        "name": "app",
        "image": image,
        "imageID": "",
        "ready": ready,
        "restartCount": 0,
        "started": ready,
    }
    if kind == "running":
        status["state"] = {"running": {"startedAt": created}}
        status["lastState"] = {}
        status["imageID"] = image.split(":")[0] + "@sha256:4c5b0e1f2a3d"
        status["containerID"] = container_id
    elif kind == "crashloop":
        status["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=app pod="
                + _s("NAME")
                + "_"
                + _s("NS")
                + "("
                + _s("UID")
                + ")",
            }
        }
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": _s("LASTSTART"),
                "finishedAt": _s("LASTCRASH"),
                "containerID": container_id,
            }
        }
        status["restartCount"] = _i("RESTARTS")
        status["imageID"] = image.split(":")[0] + "@sha256:4c5b0e1f2a3d"
        status["containerID"] = container_id
    else:
        status["state"] = {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{image}"',
            }
        }
        status["lastState"] = {}
    return {
        "phase": "Pending" if kind == "imagepull" else "Running",
        "conditions": [
            cond("PodReadyToStartContainers", "True"),
            cond("Initialized", "True"),
            cond("Ready", "True") if ready else cond("Ready", "False", *not_ready),
            cond("ContainersReady", "True")
            if ready
            else cond("ContainersReady", "False", *not_ready),
            cond("PodScheduled", "True"),
        ],
        "hostIP": _s("HOSTIP"),
        "hostIPs": [{"ip": _s("HOSTIP")}],
        "podIP": _s("IP"),
        "podIPs": [{"ip": _s("IP")}],
        "startTime": created,
        "containerStatuses": [status],
        "qosClass": "Burstable",
    }


def _node_template(condition: str) -> JSON:
    created = _s("CREATED")

    def cond(type_: str, status: str, reason: str, message: str) -> JSON:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": created,
            "lastTransitionTime": created,
            "reason": reason,
            "message": message,
        }

    memory = (
        cond(
            "MemoryPressure",
            "True",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        )
        if condition == "MemoryPressure"
        else cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        )
    )
    ready = (
        cond("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        if condition == "NotReady"
        else cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
    )
    taints: list[JSON] = []
    if condition == "MemoryPressure":
        taints = [{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}]
    elif condition == "NotReady":
        taints = [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": created},
        ]
    spec: JSON = {"providerID": "aws:///" + _s("ZONE") + "/i-0" + _s("UID")[-16:]}
    if taints:
        spec["taints"] = taints
    return {
        "metadata": {
            "name": _s("NAME"),
            "uid": _s("UID"),
            "resourceVersion": _s("RV"),
            "creationTimestamp": created,
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": _s("NAME"),
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m6i.2xlarge",
                "topology.kubernetes.io/zone": _s("ZONE"),
                "eks.amazonaws.com/nodegroup": "workers",
            },
        },
        "spec": spec,
        "status": {
            "capacity": {
                "cpu": "8",
                "memory": "32386128Ki",
                "pods": "58",
                "ephemeral-storage": "83873772Ki",
            },
            "allocatable": {
                "cpu": "7910m",
                "memory": "31369296Ki",
                "pods": "58",
                "ephemeral-storage": "76224326324",
            },
            "conditions": [
                memory,
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                ready,
            ],
            "addresses": [
                {"type": "InternalIP", "address": _s("IP")},
                {"type": "Hostname", "address": _s("NAME")},
            ],
            "nodeInfo": {
                "machineID": "ec2" + _s("UID")[-29:],
                "systemUUID": "ec2" + _s("UID")[-29:],
                "bootID": _s("UID"),
                "kernelVersion": "6.1.109-118.189.amzn2023.x86_64",
                "osImage": "Amazon Linux 2023.6.20241010",
                "containerRuntimeVersion": "containerd://1.7.22",
                "kubeletVersion": "v1.30.4-eks-036c24b",
                "kubeProxyVersion": "v1.30.4-eks-036c24b",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _event_template() -> JSON:
    return {
        "metadata": {
            "name": _s("NAME"),
            "namespace": _s("NS"),
            "uid": _s("UID"),
            "resourceVersion": _s("RV"),
            "creationTimestamp": _s("FIRST"),
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": _s("NS"),
            "name": _s("POD"),
            "uid": _s("PODUID"),
            "apiVersion": "v1",
            "resourceVersion": "",
            "fieldPath": "spec.containers{app}",
        },
        "reason": _s("REASON"),
        "message": _s("MESSAGE"),
        "source": {"component": _s("SOURCE")},
        "firstTimestamp": _s("FIRST"),
        "lastTimestamp": _s("LAST"),
        "count": _i("COUNT"),
        "type": "Warning",
        "eventTime": None,
        "reportingComponent": _s("SOURCE"),
        "reportingInstance": "",
    }


def _workload_meta(kind: str) -> JSON:
    meta: JSON = {
        "name": _s("NAME") if kind == "Deployment" else _s("NAME") + "-" + _s("HASH"),
        "namespace": _s("NS"),
        "uid": _s("UID") if kind == "Deployment" else _s("RSUID"),
        "resourceVersion": _s("RV"),
        "generation": 1,
        "creationTimestamp": _s("CREATED"),
        "labels": {"app": _s("NAME")},
        "annotations": {"deployment.kubernetes.io/revision": "1"},
    }
    if kind == "ReplicaSet":
        meta["labels"]["pod-template-hash"] = _s("HASH")
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": _s("NAME"),
                "uid": _s("UID"),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def _workload_pod_template(with_hash: bool) -> JSON:
    labels = {"app": _s("NAME")}
    if with_hash:
        labels["pod-template-hash"] = _s("HASH")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/" + _s("NAME") + ":1.4.2"
    container = o.container_spec("app", image, port=8080, cpu="100m", memory="256Mi")
    return {"metadata": {"labels": labels}, "spec": o.pod_spec([container], None)}


def _deployment_template() -> JSON:
    return {
        "metadata": _workload_meta("Deployment"),
        "spec": {
            "replicas": _i("REPLICAS"),
            "selector": {"matchLabels": {"app": _s("NAME")}},
            "template": _workload_pod_template(False),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 1,
            "replicas": _i("REPLICAS"),
            "updatedReplicas": _i("REPLICAS"),
            "readyReplicas": _i("READY"),
            "availableReplicas": _i("READY"),
            "unavailableReplicas": _i("UNAVAILABLE"),
            "conditions": [
                {
                    "type": "Available",
                    "status": _s("AVAILABLE"),
                    "lastUpdateTime": _s("CREATED"),
                    "lastTransitionTime": _s("CREATED"),
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "lastUpdateTime": _s("CREATED"),
                    "lastTransitionTime": _s("CREATED"),
                    "reason": "NewReplicaSetAvailable",
                    "message": 'ReplicaSet "'
                    + _s("NAME")
                    + "-"
                    + _s("HASH")
                    + '" has successfully progressed.',
                },
            ],
        },
    }


def _replicaset_template() -> JSON:
    return {
        "metadata": _workload_meta("ReplicaSet"),
        "spec": {
            "replicas": _i("REPLICAS"),
            "selector": {"matchLabels": {"app": _s("NAME"), "pod-template-hash": _s("HASH")}},
            "template": _workload_pod_template(True),
        },
        "status": {
            "replicas": _i("REPLICAS"),
            "fullyLabeledReplicas": _i("REPLICAS"),
            "readyReplicas": _i("READY"),
            "availableReplicas": _i("READY"),
            "observedGeneration": 1,
        },
    }


def _node_metrics_template() -> JSON:
    return {
        "metadata": {
            "name": _s("NAME"),
            "creationTimestamp": _s("CREATED"),
            "labels": {"kubernetes.io/hostname": _s("NAME")},
        },
        "timestamp": _s("STAMP"),
        "window": "20.036s",
        "usage": {"cpu": _s("CPU"), "memory": _s("MEMORY")},
    }


def _pod_metrics_template() -> JSON:
    return {
        "metadata": {
            "name": _s("NAME"),
            "namespace": _s("NS"),
            "creationTimestamp": _s("CREATED"),
            "labels": {"app": _s("APP"), "pod-template-hash": _s("HASH")},
        },
        "timestamp": _s("STAMP"),
        "window": "20.036s",
        "containers": [{"name": "app", "usage": {"cpu": _s("CPU"), "memory": _s("MEMORY")}}],
    }


def generated_cluster(
    pods: int = 1_000,
    nodes: int | None = None,
    seed: int = 1,
    namespaces: int | None = None,
    *,
    metrics: bool = False,
    unhealthy_every: int = UNHEALTHY_EVERY,
) -> GeneratedCluster:
    """A synthetic cluster of ``pods`` pods on ``nodes`` nodes (default: one per 30 pods).

    ``metrics=True`` also serves metrics.k8s.io (absent by default, as without metrics-server);
    one pod in ``unhealthy_every`` is unhealthy (crash loop, image pull, pending in turn).
    """
    return GeneratedCluster(
        pods, nodes or max(1, pods // 30), seed, namespaces, metrics, unhealthy_every
    )
