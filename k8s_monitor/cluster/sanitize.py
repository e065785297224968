"""Redaction of decoded objects: the free-text fields where secrets turn up, cleaned in place.

Objects are freshly decoded and owned by the collector, so mutating them avoids copying every
pod of a large cluster. What is cleaned: annotations (values), container command and args,
event messages, pod and container status messages. Env var values have no field in the
structs and are never decoded at all.
"""

from __future__ import annotations

from typing import Any

from k8s_monitor.cluster.snapshot import (
    Container,
    ContainerState,
    ContainerStatus,
    Event,
    ObjectMeta,
    Pod,
)
from k8s_monitor.redaction import Redactor

# kubectl apply stores the whole manifest here, env values included: never keep it.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def sanitize(item: Any, redactor: Redactor) -> None:
    """Redact ``item`` (any snapshot struct with ``metadata``) in place."""
    metadata = getattr(item, "metadata", None)
    if isinstance(metadata, ObjectMeta) and metadata.annotations:
        _sanitize_meta(metadata, redactor)
    if isinstance(item, Pod):
        _sanitize_pod(item, redactor)
    elif isinstance(item, Event):
        item.message = redactor.redact(item.message)


def _sanitize_meta(metadata: ObjectMeta, redactor: Redactor) -> None:
    kept = {k: v for k, v in metadata.annotations.items() if k not in DROPPED_ANNOTATIONS}
    metadata.annotations = redactor.redact_mapping(kept)


def _sanitize_pod(pod: Pod, redactor: Redactor) -> None:
    for container in (*pod.spec.containers, *pod.spec.init_containers):
        _sanitize_container(container, redactor)
    if pod.status.message:
        pod.status.message = redactor.redact(pod.status.message)
    for status in (*pod.status.container_statuses, *pod.status.init_container_statuses):
        _sanitize_status(status, redactor)


def _sanitize_container(container: Container, redactor: Redactor) -> None:
    if container.command:
        container.command = tuple(redactor.redact_argv(container.command))
    if container.args:
        container.args = tuple(redactor.redact_argv(container.args))


def _sanitize_status(status: ContainerStatus, redactor: Redactor) -> None:
    _sanitize_state(status.state, redactor)
    _sanitize_state(status.last_state, redactor)


def _sanitize_state(state: ContainerState, redactor: Redactor) -> None:
    # Termination messages are whatever the app wrote to /dev/termination-log.
    if state.terminated is not None and state.terminated.message:
        state.terminated.message = redactor.redact(state.terminated.message)
    if state.waiting is not None and state.waiting.message:
        state.waiting.message = redactor.redact(state.waiting.message)
