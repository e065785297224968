"""A changing day: a realistic cluster with background churn and the incident-day faults on top.

One scenario step per monitoring cycle. Background churn never breaks anything: healthy
rollouts (an image bump), scale-ups and scale-downs, Normal events streaming. On top of it, the
faults of ``incident-day`` (a crash loop, node MemoryPressure, a rollout of a missing image),
spread over the day and each healed later, so most cycles change nothing a monitor should
report. The scripted truth (which fault is active at which cycle) comes with it, so a ledger or
a report can be scored against what really happened rather than against itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from k8s_monitor.sim.dsl import (
    ChangeIn,
    CrashLoopIn,
    EventIn,
    HealIn,
    NodeConditionIn,
    NodeIn,
    RollbackIn,
    RolloutIn,
    ScaleIn,
    StepIn,
    WorkloadIn,
)
from k8s_monitor.sim.scenario import Scenario, load_scenario

CHANGING_DAY = "changing-day"
DAY_START = "2026-03-02T00:00:00Z"
FILLER_NAMESPACES = ("orders", "search", "media", "identity", "analytics")
PODS_PER_NODE = 30
CRASH_LOG = "{time} ERROR database connection failed, giving up after 5 attempts\n"


@dataclass(frozen=True)
class ScriptedFault:
    """One fault of the day: where it shows, and the cycles (1-based) it is active."""

    key: str  # "namespace/name" of the workload, or "node/<name>"
    first_cycle: int
    last_cycle: int  # the last cycle it is visible; resolved on the next one

    def active(self, cycle: int) -> bool:
        return self.first_cycle <= cycle <= self.last_cycle


@dataclass(frozen=True)
class ChangingDay:
    scenario: Scenario
    faults: tuple[ScriptedFault, ...]
    pods: int

    def truth(self, cycle: int) -> dict[str, str]:
        """Per fault key: ``new``, ``recurring`` or ``resolved`` at ``cycle``; absent: quiet."""
        result: dict[str, str] = {}
        for fault in self.faults:
            if fault.active(cycle):
                result[fault.key] = "new" if cycle == fault.first_cycle else "recurring"
            elif cycle == fault.last_cycle + 1:
                result[fault.key] = "resolved"
        return result


def changing_day(*, cycles: int = 96, pods: int = 500, step_seconds: float = 900.0) -> ChangingDay:
    """The day as a scenario with one step per cycle (step ``k`` is seen by cycle ``k + 1``)."""
    base = load_scenario("incident-day")
    spec = msgspec.structs.replace(base.spec, name=CHANGING_DAY, steps=[])
    spec.clock.step_seconds = step_seconds
    spec.clock.start = DAY_START  # reproducible times: the same day renders to the same bytes
    spec.namespaces = [*spec.namespaces, *FILLER_NAMESPACES]
    extra_nodes = max(0, -(-pods // PODS_PER_NODE) - len(spec.nodes))
    spec.nodes = [*spec.nodes, *_filler_nodes(extra_nodes)]
    # DaemonSets run a pod per node: count them on the final node list, so the day has ``pods``.
    filler = _filler_workloads(pods - _scenario_pods(spec.workloads, len(spec.nodes)))
    spec.workloads = [*spec.workloads, *filler]
    faults, fault_changes = _faults(cycles, spec.nodes[2].name)
    churn = _churn(cycles, filler)
    spec.steps = [
        StepIn(
            name=f"cycle-{step + 1}", changes=[*churn.get(step, []), *fault_changes.get(step, [])]
        )
        for step in range(cycles)
    ]
    return ChangingDay(Scenario(spec), tuple(faults), pods)


def _scenario_pods(workloads: list[WorkloadIn], nodes: int) -> int:
    total = 0
    for workload in workloads:
        if workload.kind == "DaemonSet":
            total += nodes
        elif workload.kind in ("Deployment", "StatefulSet"):
            total += workload.replicas
    return total


def _filler_workloads(pods: int) -> list[WorkloadIn]:
    result: list[WorkloadIn] = []
    index = 0
    while pods > 0:
        replicas = min(10, pods)
        namespace = FILLER_NAMESPACES[index % len(FILLER_NAMESPACES)]
        result.append(
            WorkloadIn(
                kind="Deployment",
                namespace=namespace,
                name=f"svc-{index:02d}",
                image=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{namespace}/svc-{index:02d}:1.0.0",
                replicas=replicas,
                age_days=20.0,
            )
        )
        pods -= replicas
        index += 1
    return result


def _filler_nodes(count: int) -> Iterator[NodeIn]:
    for index in range(count):
        yield NodeIn(
            name=f"ip-10-0-{4 + index // 200}-{10 + index % 200}.us-east-1.compute.internal",
            zone=("us-east-1a", "us-east-1b", "us-east-1c")[index % 3],
            instance_type="m6i.2xlarge",
            cpu="8",
            memory="32Gi",
            pods=58,
            age_days=10.0,
        )


def _churn(cycles: int, filler: list[WorkloadIn]) -> dict[int, list[ChangeIn]]:
    """Rollouts, scale events and Normal events every step; deterministic, never a fault."""
    changes: dict[int, list[ChangeIn]] = {}
    replicas = {f"{w.namespace}/{w.name}": w.replicas for w in filler}
    versions = dict.fromkeys(replicas, 0)
    names = sorted(replicas)
    for step in range(1, cycles):
        step_changes: list[ChangeIn] = []
        target = names[(step * 7) % len(names)]
        if step % 3 == 0:
            versions[target] += 1
            namespace, name = target.split("/")
            image = (
                f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{namespace}/{name}:"
                f"1.{versions[target]}.0"
            )
            step_changes.append(ChangeIn(rollout=RolloutIn(workload=target, image=image)))
        if step % 4 == 1:
            scaled = names[(step * 11) % len(names)]
            replicas[scaled] += 1 if (step // 4) % 2 == 0 else -1
            step_changes.append(ChangeIn(scale=ScaleIn(workload=scaled, replicas=replicas[scaled])))
        namespace, name = target.split("/")
        step_changes.append(
            ChangeIn(
                event=EventIn(
                    kind="Deployment",
                    namespace=namespace,
                    name=name,
                    reason="ScalingReplicaSet",
                    message=f"Scaled up replica set {name}-{step:04d} to 1",
                    type="Normal",
                    component="deployment-controller",
                )
            )
        )
        changes[step] = step_changes
    return changes


def _faults(cycles: int, node: str) -> tuple[list[ScriptedFault], dict[int, list[ChangeIn]]]:
    """incident-day's faults at fixed shares of the day; each step k is seen by cycle k + 1."""

    def at(share: float) -> int:
        return max(1, min(cycles - 2, round(share * cycles)))

    changes: dict[int, list[ChangeIn]] = {}

    def add(step: int, change: ChangeIn) -> None:
        changes.setdefault(step, []).append(change)

    crash, crash_end = at(0.2), at(0.35)
    add(crash, ChangeIn(crashloop=CrashLoopIn(workload="shop/checkout", log=CRASH_LOG)))
    add(crash_end, ChangeIn(heal=HealIn(workload="shop/checkout")))
    pressure, pressure_end = at(0.45), at(0.55)
    add(
        pressure,
        ChangeIn(node_condition=NodeConditionIn(node=node, type="MemoryPressure", status="True")),
    )
    add(
        pressure_end,
        ChangeIn(node_condition=NodeConditionIn(node=node, type="MemoryPressure", status="False")),
    )
    rollout, rollout_end = at(0.65), at(0.75)
    bad = "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments/api:2.5.0-rc1"
    add(
        rollout,
        ChangeIn(
            rollout=RolloutIn(
                workload="payments/payments-api", image=bad, pull_error=f"{bad}: not found"
            )
        ),
    )
    add(rollout_end, ChangeIn(rollback=RollbackIn(workload="payments/payments-api")))
    faults = [
        ScriptedFault("shop/checkout", crash + 1, crash_end),
        ScriptedFault(f"node/{node}", pressure + 1, pressure_end),
        ScriptedFault("payments/payments-api", rollout + 1, rollout_end),
    ]
    return faults, changes
