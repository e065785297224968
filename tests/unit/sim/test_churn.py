"""The changing day: churn that breaks nothing, faults on top, and the script to score against."""

from __future__ import annotations

from k8s_monitor.sim.churn import changing_day


def test_the_day_has_the_pods_asked_for_and_a_step_per_cycle() -> None:
    day = changing_day(cycles=96, pods=500)
    spec = day.scenario.spec
    assert len(spec.steps) == 96
    daemonsets = sum(1 for w in spec.workloads if w.kind == "DaemonSet")
    replicas = sum(w.replicas for w in spec.workloads if w.kind in ("Deployment", "StatefulSet"))
    assert replicas + daemonsets * len(spec.nodes) == 500
    churning = [step for step in spec.steps if any(c.rollout or c.scale for c in step.changes)]
    assert len(churning) > 40, "background rollouts and scale events most of the day"


def test_the_script_says_new_recurring_resolved_per_fault() -> None:
    day = changing_day(cycles=96)
    crash = next(f for f in day.faults if f.key == "shop/checkout")
    assert day.truth(crash.first_cycle - 1).get("shop/checkout") is None
    assert day.truth(crash.first_cycle)["shop/checkout"] == "new"
    assert day.truth(crash.first_cycle + 1)["shop/checkout"] == "recurring"
    assert day.truth(crash.last_cycle + 1)["shop/checkout"] == "resolved"
    assert day.truth(crash.last_cycle + 2).get("shop/checkout") is None
    quiet = sum(1 for cycle in range(1, 97) if not day.truth(cycle))
    assert quiet > 0.5 * 96
