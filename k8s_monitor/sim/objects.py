"""Builders of Kubernetes objects shaped as the apiserver returns them (plain JSON dicts).

Pure functions: the same inputs always give the same object, so uids, names and IPs are stable
across steps and across runs. Everything the analyzers and kubectl read is present and realistic
(managedFields, ownerReferences, conditions with transition times, container states).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

# The alphabet Kubernetes uses for generated names (rand.SafeEncodeString): no vowels, no 0/1/3.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_UID_NAMESPACE = uuid.UUID("6f1c2a9e-64a4-4c43-9d55-3d1b8a7b0c11")

# kubelet's crash back-off: 10 s doubling up to 5 minutes.
_BACKOFF_START = 10.0
_BACKOFF_CAP = 300.0
_RUN_SECONDS = 4.0


def ts(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, second precision, as the apiserver writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_uid(*parts: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def name_suffix(length: int, *parts: str) -> str:
    """Deterministic stand-in for the random suffixes controllers append to names."""
    digest = hashlib.blake2b("/".join(parts).encode(), digest_size=16).digest()
    return "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:length])


def stable_int(modulus: int, *parts: str) -> int:
    digest = hashlib.blake2b("/".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulus


def pod_ip(*parts: str) -> str:
    n = stable_int(65_000, *parts)
    return f"10.0.{(n // 250) % 250 + 1}.{n % 250 + 2}"


def node_ip(name: str) -> str:
    """EKS names nodes after their IP (``ip-10-0-2-47...`` is 10.0.2.47); others get a hash."""
    match = _EKS_NODE.match(name)
    if match:
        return ".".join(match.groups()[:4])
    return pod_ip("node", name)


_EKS_NODE = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(\.|$)")


def crash_restarts(elapsed: float) -> tuple[int, float]:
    """Restarts a crash-looping container has made ``elapsed`` seconds after its first crash.

    Returns the count and the seconds since the last crash, following kubelet's back-off.
    """
    if elapsed <= 0:
        return 0, 0.0
    restarts = 0
    last_crash = 0.0
    clock = 0.0
    backoff = _BACKOFF_START
    # The doubling phase is at most six rounds; after it, a closed form avoids long loops.
    while backoff < _BACKOFF_CAP:
        next_crash = clock + backoff + _RUN_SECONDS
        if next_crash > elapsed:
            return restarts, elapsed - last_crash
        clock = next_crash
        last_crash = clock
        restarts += 1
        backoff *= 2
    period = _BACKOFF_CAP + _RUN_SECONDS
    more = int((elapsed - clock) // period)
    last_crash = clock + more * period
    return restarts + more, elapsed - last_crash


def object_meta(
    *,
    name: str,
    namespace: str | None,
    uid: str,
    created: datetime,
    resource_version: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: JSON | None = None,
    generation: int | None = None,
    managed_by: str = "kube-controller-manager",
    generate_name: str | None = None,
) -> JSON:
    meta: JSON = {"name": name}
    if generate_name:
        meta["generateName"] = generate_name
    if namespace is not None:
        meta["namespace"] = namespace
    meta["uid"] = uid
    meta["resourceVersion"] = resource_version
    if generation is not None:
        meta["generation"] = generation
    meta["creationTimestamp"] = ts(created)
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owner is not None:
        meta["ownerReferences"] = [owner]
    meta["managedFields"] = [
        {
            "manager": managed_by,
            "operation": "Update",
            "apiVersion": "v1",
            "time": ts(created),
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {f"f:{k}": {} for k in (labels or {})}},
                "f:spec": {},
            },
        }
    ]
    return meta


def owner_ref(api_version: str, kind: str, name: str, uid: str) -> JSON:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(
    type_: str,
    status: str,
    since: datetime,
    reason: str | None = None,
    message: str | None = None,
    *,
    probe_time: bool = False,
    heartbeat: datetime | None = None,
    update: datetime | None = None,
) -> JSON:
    cond: JSON = {"type": type_, "status": status}
    if probe_time:
        cond["lastProbeTime"] = None
    if heartbeat is not None:
        cond["lastHeartbeatTime"] = ts(heartbeat)
    if update is not None:
        cond["lastUpdateTime"] = ts(update)
    cond["lastTransitionTime"] = ts(since)
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def container_spec(
    name: str,
    image: str,
    *,
    port: int | None,
    cpu: str,
    memory: str,
    env: dict[str, str] | None = None,
    secret_env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> JSON:
    """A container spec. ``env`` values appear in clear, as in any pod spec (the collector must
    drop them); ``secret_env`` maps a variable to ``secret/key`` through ``valueFrom``."""
    spec: JSON = {"name": name, "image": image}
    if command:
        spec["command"] = command
    if port is not None:
        spec["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    values = {"LOG_LEVEL": "info", "PORT": str(port or 8080), **(env or {})}
    spec["env"] = [{"name": key, "value": value} for key, value in values.items()]
    for key, ref in (secret_env or {}).items():
        secret, _, secret_key = ref.partition("/")
        spec["env"].append(
            {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}}}
        )
    spec["resources"] = {
        "limits": {"memory": memory},
        "requests": {"cpu": cpu, "memory": memory},
    }
    if port is not None:
        probe = {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        }
        spec["livenessProbe"] = probe
        spec["readinessProbe"] = probe
    spec["volumeMounts"] = [
        {
            "name": "kube-api-access",
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    spec["terminationMessagePath"] = "/dev/termination-log"
    spec["terminationMessagePolicy"] = "File"
    spec["imagePullPolicy"] = "IfNotPresent"
    return spec


def pod_spec(containers: list[JSON], node: str | None, service_account: str = "default") -> JSON:
    spec: JSON = {
        "volumes": [
            {
                "name": "kube-api-access",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        ],
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": service_account,
        "serviceAccount": service_account,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if node:
        spec["nodeName"] = node
    return spec


def event(
    *,
    namespace: str,
    involved: JSON,
    reason: str,
    message: str,
    type_: str,
    first: datetime,
    last: datetime,
    count: int,
    component: str,
    host: str | None,
    resource_version: str,
) -> JSON:
    """A core/v1 Event as the kubelet and controllers emit them (deprecated-but-served fields)."""
    obj_name = involved.get("name", "")
    # Like the recorder: the object's name and a hex nanosecond stamp (made unique per reason).
    nanos = int(first.timestamp()) * 1_000_000_000 + stable_int(999_999_999, reason, message)
    name = f"{obj_name}.{nanos:x}"
    source: JSON = {"component": component}
    if host:
        source["host"] = host
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": make_uid("Event", namespace, name),
            "resourceVersion": resource_version,
            "creationTimestamp": ts(first),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last),
        "count": max(count, 1),
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def involved_object(
    kind: str, namespace: str | None, name: str, uid: str, api_version: str = "v1"
) -> JSON:
    ref: JSON = {"kind": kind}
    if namespace is not None:
        ref["namespace"] = namespace
    ref["name"] = name
    ref["uid"] = uid
    ref["apiVersion"] = api_version
    ref["resourceVersion"] = ""
    return ref
