"""Which containers deserve a log tail, and how a tail is read, capped and redacted.

A crash-looping, error-terminated or OOM-killed container explains itself in the last lines of
its *previous* instance. Tails are capped in lines (``tailLines``), in bytes (the end is kept,
cut at a line boundary) and in count per cycle; one container per workload is taken first so
fifty crashing replicas of one Deployment do not use up every slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from k8s_monitor.cluster.snapshot import ContainerStatus, LogTail, Pod
from k8s_monitor.cluster.transport import Response
from k8s_monitor.redaction import Redactor

_OOM = "OOMKilled"
_CRASH_LOOP = "CrashLoopBackOff"


@dataclass(frozen=True, slots=True, order=True)
class LogTarget:
    """One container whose log to fetch; ordering puts the most telling first."""

    priority: int  # lower first: 0 OOM-killed, 1 crash-looping, 2 terminated with error
    restarts_desc: int  # negative restart count, so more restarts sort first
    namespace: str
    pod: str
    container: str
    previous: bool
    group: str  # the workload (controller) this container belongs to

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/pods/{self.pod}/log"


def select_targets(pods: Iterable[Pod], limit: int) -> list[LogTarget]:
    """At most ``limit`` targets: best per workload first, then the rest in priority order."""
    if limit <= 0:
        return []
    candidates = sorted(target for pod in pods for target in _pod_targets(pod))
    chosen: list[LogTarget] = []
    seen_groups: set[tuple[str, str]] = set()
    rest: list[LogTarget] = []
    for target in candidates:
        key = (target.group, target.container)
        if key in seen_groups:
            rest.append(target)
            continue
        seen_groups.add(key)
        chosen.append(target)
    return (chosen + rest)[:limit]


def _pod_targets(pod: Pod) -> Iterable[LogTarget]:
    meta = pod.metadata
    owner = meta.controller_ref()
    group = (
        f"{meta.namespace}/{owner.kind}/{owner.name}" if owner else f"{meta.namespace}/{meta.name}"
    )
    statuses = (*pod.status.init_container_statuses, *pod.status.container_statuses)
    for status in statuses:
        verdict = _verdict(status)
        if verdict is None:
            continue
        priority, previous = verdict
        yield LogTarget(
            priority=priority,
            restarts_desc=-status.restart_count,
            namespace=meta.namespace,
            pod=meta.name,
            container=status.name,
            previous=previous,
            group=group,
        )


def _verdict(status: ContainerStatus) -> tuple[int, bool] | None:
    """(priority, previous) when this container's log is worth reading, else None."""
    current = status.state.terminated
    last = status.last_state.terminated
    waiting = status.state.waiting
    # The instance that failed is the current one when it is still shown terminated (no
    # restart yet), else the previous one, whose log the kubelet keeps until the next restart.
    if current is not None and (current.reason == _OOM or current.exit_code != 0):
        return (0 if current.reason == _OOM else 2), False
    if last is None or status.restart_count == 0:
        return None
    if last.reason == _OOM:
        return 0, True
    if waiting is not None and waiting.reason == _CRASH_LOOP:
        return 1, True
    if last.exit_code != 0:
        return 2, True
    return None


def log_query(target: LogTarget, *, lines: int, limit_bytes: int) -> list[tuple[str, str]]:
    query = [("container", target.container), ("tailLines", str(lines))]
    if target.previous:
        query.append(("previous", "true"))
    # A server-side ceiling: tailLines bounds the count of lines, not their length.
    query.append(("limitBytes", str(limit_bytes)))
    return query


def tail_from_response(
    target: LogTarget, response: Response, *, max_bytes: int, redactor: Redactor
) -> LogTail:
    """The capped, redacted tail: at most ``max_bytes`` bytes of the end, on whole lines."""
    data, truncated = _last_lines(response.body, max_bytes, response.truncated)
    # Cut before redacting so no secret is split at an arbitrary byte; then cut again, since a
    # marker can be longer than what it replaced.
    redacted = redactor.clean(data.decode("utf-8", "replace")).encode()
    data, again = _last_lines(redacted, max_bytes, truncated=False)
    return LogTail(
        namespace=target.namespace,
        pod=target.pod,
        container=target.container,
        previous=target.previous,
        text=data.decode("utf-8", "replace"),
        truncated=truncated or again,
    )


def _last_lines(data: bytes, max_bytes: int, truncated: bool) -> tuple[bytes, bool]:
    if len(data) > max_bytes:
        data = data[len(data) - max_bytes :]
        truncated = True
    if truncated:
        # Drop the partial first line: a secret cut in half would slip past every pattern.
        newline = data.find(b"\n")
        data = data[newline + 1 :] if newline >= 0 else b""
    return data, truncated
