"""What a controller decides about one pod (name, owner, state) before it is written out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k8s_monitor.sim.world import Fault, Revision, WorkloadState

JSON = dict[str, Any]

UNSCHEDULABLE = "0/1 nodes are available: 1 Insufficient memory."
# Pod states whose details (message, log, autoscaler answer) come from the workload's fault.
FAULTED_STATES = frozenset({"crashloop", "recovered", "pending", "sandbox"})


@dataclass
class PodPlan:
    """What a controller decided about one pod before it is written out."""

    workload: WorkloadState
    name: str
    owner: JSON
    labels: dict[str, str]
    image: str
    created: float
    node: str | None
    # running | crashloop | recovered | imagepull | pending | completed | failed | evicted
    # | configerror | sandbox
    state: str
    since: float = 0.0
    fault: Fault | None = None
    pull_error: str | None = None
    exit_code: int = 0
    message: str = ""


def pod_state(workload: WorkloadState, revision: Revision) -> tuple[str, float]:
    """The state of a pod on ``revision``, and since when (scenario offset)."""
    if revision.pull_error is not None:
        return "imagepull", revision.since
    if revision.config_error is not None:
        return "configerror", revision.since
    fault = workload.fault
    if fault is not None and fault.revision == revision.number:
        if fault.kind in ("pending", "sandbox"):
            return fault.kind, fault.since
        if fault.end is not None:
            return "recovered", fault.since
        return "crashloop", fault.since
    return "running", max(revision.since, workload.created)
