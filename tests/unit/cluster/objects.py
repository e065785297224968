"""Real-shaped API objects (as the apiserver returns them) for every kind the collector reads.

Each builder fills every field the snapshot structs keep, plus fields they skip
(``managedFields``, env ``value``), so decoding is checked against realistic noise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests import builders

JSON = dict[str, Any]
T0 = "2026-11-24T01:00:00Z"
T1 = "2026-11-24T01:05:00Z"
# The collection instant the cluster tests use: ten minutes after the objects were created.
NOW = builders.T0 + timedelta(hours=1, minutes=10)


def meta(name: str, namespace: str = "", **extra: Any) -> JSON:
    out: JSON = {
        "name": name,
        "uid": f"uid-{namespace}-{name}",
        "resourceVersion": "1001",
        "generation": 3,
        "creationTimestamp": T0,
        "labels": {"app": name.split("-")[0], "tier": "backend"},
        "annotations": {"deployment.kubernetes.io/revision": "4"},
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}],
    }
    if namespace:
        out["namespace"] = namespace
    out.update(extra)
    return out


def condition(type_: str, status: str = "True", reason: str = "Ok", **extra: Any) -> JSON:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": f"{type_} is {status}",
        "lastTransitionTime": T0,
        **extra,
    }


def pod(
    name: str = "api-7d9f8b6c5d-x2kqz",
    namespace: str = "default",
    *,
    waiting: str | None = None,
    last_reason: str | None = None,
    last_exit: int = 0,
    restarts: int = 0,
    terminated: tuple[str, int] | None = None,
    owner: str = "api-7d9f8b6c5d",
    annotations: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> JSON:
    state: JSON = {"running": {"startedAt": T1}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": f"back-off restarting {name}"}}
    if terminated:
        state = {
            "terminated": {
                "reason": terminated[0],
                "exitCode": terminated[1],
                "startedAt": T0,
                "finishedAt": T1,
                "message": "bye",
            }
        }
    last: JSON = {}
    if last_reason:
        last = {
            "terminated": {
                "reason": last_reason,
                "exitCode": last_exit,
                "signal": 9,
                "startedAt": T0,
                "finishedAt": T1,
                "message": "password=Hunter2Hunter2 in termination log",
            }
        }
    m = meta(
        name,
        namespace,
        ownerReferences=[
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": "uid-rs",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    )
    if annotations is not None:
        m["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": m,
        "spec": {
            "nodeName": "node-1",
            "restartPolicy": "Always",
            "priorityClassName": "high",
            "serviceAccountName": "api",
            "containers": [
                {
                    "name": "api",
                    "image": "registry.example.com/api:1.4.2",
                    "command": ["/bin/api"],
                    "args": args if args is not None else ["--port=8080"],
                    "env": [
                        {"name": "DB_PASSWORD", "value": "never-collect-me"},
                        {
                            "name": "API_KEY",
                            "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}},
                        },
                    ],
                    "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m"}},
                    "ports": [{"containerPort": 8080}],
                }
            ],
            "initContainers": [{"name": "migrate", "image": "registry.example.com/migrate:1"}],
        },
        "status": {
            "phase": "Running",
            "qosClass": "Burstable",
            "startTime": T0,
            "conditions": [condition("Ready", "False", "ContainersNotReady")],
            "initContainerStatuses": [
                {
                    "name": "migrate",
                    "ready": True,
                    "restartCount": 0,
                    "image": "migrate:1",
                    "imageID": "x",
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
                    "lastState": {},
                }
            ],
            "containerStatuses": [
                {
                    "name": "api",
                    "ready": waiting is None,
                    "started": True,
                    "restartCount": restarts,
                    "image": "registry.example.com/api:1.4.2",
                    "imageID": "sha256:abc",
                    "state": state,
                    "lastState": last,
                }
            ],
        },
    }


def node(name: str = "node-1", ready: str = "True") -> JSON:
    return {
        "kind": "Node",
        "metadata": meta(name),
        "spec": {
            "unschedulable": True,
            "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
            "podCIDR": "10.0.0.0/24",
        },
        "status": {
            "conditions": [condition("Ready", ready, "KubeletReady", lastHeartbeatTime=T1)],
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
            "nodeInfo": {
                "kubeletVersion": "v1.31.2",
                "osImage": "Bottlerocket",
                "architecture": "amd64",
                "bootID": "b",
                "containerRuntimeVersion": "containerd://1.7",
                "kernelVersion": "6.1",
                "kubeProxyVersion": "",
                "machineID": "m",
                "operatingSystem": "linux",
                "systemUUID": "s",
            },
            "images": [{"names": ["x"], "sizeBytes": 1}],
        },
    }


def event(
    name: str,
    namespace: str = "default",
    *,
    type_: str = "Warning",
    last: str = T1,
    message: str = "Back-off restarting failed container",
) -> JSON:
    return {
        "kind": "Event",
        "metadata": meta(name, namespace),
        "involvedObject": {
            "kind": "Pod",
            "namespace": namespace,
            "name": "api-1",
            "uid": "u1",
            "apiVersion": "v1",
        },
        "reason": "BackOff",
        "message": message,
        "type": type_,
        "count": 7,
        "firstTimestamp": T0,
        "lastTimestamp": last,
        "eventTime": None,
        "series": {"count": 7, "lastObservedTime": last.replace("Z", ".123456Z")},
        "source": {"component": "kubelet", "host": "node-1"},
        "reportingComponent": "kubelet",
    }


def deployment(name: str = "api", namespace: str = "default") -> JSON:
    return {
        "kind": "Deployment",
        "metadata": meta(name, namespace),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "paused": False,
            "progressDeadlineSeconds": 600,
            "template": {"spec": {"containers": []}},
        },
        "status": {
            "replicas": 3,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "updatedReplicas": 3,
            "unavailableReplicas": 2,
            "observedGeneration": 3,
            "conditions": [
                condition("Available", "False", "MinimumReplicasUnavailable", lastUpdateTime=T1)
            ],
        },
    }


def replicaset(name: str = "api-7d9f8b6c5d", namespace: str = "default") -> JSON:
    return {
        "kind": "ReplicaSet",
        "metadata": meta(
            name,
            namespace,
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "api",
                    "uid": "u",
                    "controller": True,
                }
            ],
        ),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"replicas": 3, "readyReplicas": 1, "availableReplicas": 1},
    }


def statefulset(name: str = "db", namespace: str = "data") -> JSON:
    return {
        "kind": "StatefulSet",
        "metadata": meta(name, namespace),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "serviceName": name,
            "template": {"spec": {"containers": []}},
        },
        "status": {
            "replicas": 3,
            "readyReplicas": 2,
            "currentReplicas": 3,
            "updatedReplicas": 1,
            "availableReplicas": 2,
            "observedGeneration": 5,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }


def daemonset(name: str = "fluentd", namespace: str = "kube-system") -> JSON:
    return {
        "kind": "DaemonSet",
        "metadata": meta(name, namespace),
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"spec": {"containers": []}},
        },
        "status": {
            "desiredNumberScheduled": 5,
            "currentNumberScheduled": 5,
            "numberReady": 4,
            "numberAvailable": 4,
            "numberUnavailable": 1,
            "numberMisscheduled": 0,
            "updatedNumberScheduled": 5,
            "observedGeneration": 2,
        },
    }


def job(name: str = "backup-28100", namespace: str = "ops") -> JSON:
    return {
        "kind": "Job",
        "metadata": meta(name, namespace),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "activeDeadlineSeconds": 900,
            "suspend": False,
            "template": {"spec": {"containers": []}},
        },
        "status": {
            "active": 0,
            "succeeded": 0,
            "failed": 7,
            "startTime": T0,
            "completionTime": T1,
            "conditions": [condition("Failed", "True", "BackoffLimitExceeded")],
        },
    }


def cronjob(name: str = "backup", namespace: str = "ops") -> JSON:
    return {
        "kind": "CronJob",
        "metadata": meta(name, namespace),
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": True,
            "timeZone": "Europe/Berlin",
            "startingDeadlineSeconds": 200,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
        },
        "status": {
            "lastScheduleTime": T0,
            "lastSuccessfulTime": T1,
            "active": [{"kind": "Job", "namespace": namespace, "name": "backup-1", "uid": "j"}],
        },
    }


def pvc(name: str = "data-db-0", namespace: str = "data") -> JSON:
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, namespace),
        "spec": {
            "storageClassName": "gp3",
            "volumeName": "pv-1",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
        },
        "status": {"phase": "Pending", "conditions": [condition("Resizing")]},
    }


def pv(name: str = "pv-1") -> JSON:
    return {
        "kind": "PersistentVolume",
        "metadata": meta(name),
        "spec": {
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": "data",
                "name": "data-db-0",
                "uid": "c",
            },
            "storageClassName": "gp3",
            "capacity": {"storage": "10Gi"},
        },
        "status": {"phase": "Failed", "reason": "VolumeFailed", "message": "detach failed"},
    }


def hpa(name: str = "api", namespace: str = "default") -> JSON:
    return {
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name, namespace),
        "spec": {
            "minReplicas": 2,
            "maxReplicas": 10,
            "scaleTargetRef": {"kind": "Deployment", "name": name, "apiVersion": "apps/v1"},
        },
        "status": {
            "currentReplicas": 10,
            "desiredReplicas": 10,
            "conditions": [condition("ScalingLimited", "True", "TooManyReplicas")],
        },
    }


def pdb(name: str = "api", namespace: str = "default") -> JSON:
    return {
        "kind": "PodDisruptionBudget",
        "metadata": meta(name, namespace),
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": name}}},
        "status": {
            "currentHealthy": 1,
            "desiredHealthy": 2,
            "disruptionsAllowed": 0,
            "expectedPods": 3,
        },
    }


def quota(name: str = "compute", namespace: str = "default") -> JSON:
    return {
        "kind": "ResourceQuota",
        "metadata": meta(name, namespace),
        "spec": {"hard": {"pods": "10"}},
        "status": {"hard": {"pods": "10"}, "used": {"pods": "10"}},
    }


def service(name: str = "api", namespace: str = "default") -> JSON:
    return {
        "kind": "Service",
        "metadata": meta(name, namespace),
        "spec": {
            "selector": {"app": name},
            "type": "ClusterIP",
            "clusterIP": "172.20.14.7",
            "clusterIPs": ["172.20.14.7"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def endpointslice(
    name: str = "api-x7k2p", namespace: str = "default", service: str = "api"
) -> JSON:
    m = meta(name, namespace)
    m["labels"] = {
        "kubernetes.io/service-name": service,
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": m,
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.0.1.12"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": "api-1", "uid": "u1"},
                "nodeName": "node-1",
                "zone": "us-east-1a",
            },
            {
                "addresses": ["10.0.2.40"],
                "conditions": {"ready": False, "serving": False, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": "api-2", "uid": "u2"},
                "nodeName": "node-2",
            },
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def storageclass(name: str = "gp3") -> JSON:
    return {
        "kind": "StorageClass",
        "apiVersion": "storage.k8s.io/v1",
        "metadata": meta(name),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def namespace(name: str = "default") -> JSON:
    return {"kind": "Namespace", "metadata": meta(name), "status": {"phase": "Active"}}


def node_metrics(name: str = "node-1") -> JSON:
    return {
        "kind": "NodeMetrics",
        "metadata": meta(name),
        "timestamp": T1,
        "window": "10s",
        "usage": {"cpu": "1200m", "memory": "9Gi"},
    }


def pod_metrics(name: str = "api-1", namespace: str = "default") -> JSON:
    return {
        "kind": "PodMetrics",
        "metadata": meta(name, namespace),
        "timestamp": T1,
        "containers": [{"name": "api", "usage": {"cpu": "5m", "memory": "200Mi"}}],
    }
