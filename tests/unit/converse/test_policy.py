"""LLM_CALL_POLICY: when a cycle asks the model, as a pure function of the ledger update."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.analysis.incidents import Incident, IncidentStatus, LedgerUpdate, Trend
from k8s_monitor.config import CallPolicy, load_settings
from k8s_monitor.converse.policy import CallGate, CallReason, CallState, decide, quiet_line
from k8s_monitor.errors import ConfigurationError
from tests import builders


def incident(
    name: str = "api-1",
    *,
    status: IncidentStatus = IncidentStatus.RECURRING,
    severity: Severity = Severity.CRITICAL,
    evidence: dict[str, Any] | None = None,
    trend: Trend = Trend.STABLE,
) -> Incident:
    evidence = evidence or {"container": "app", "restart_count": 3, "last_exit_code": 1}
    message = "back-off restarting failed container"
    found = builders.finding(
        name, severity, kind="Pod", message=message, evidence=evidence, objects=()
    )
    return builders.incident(found, status=status, trend=trend)


def update(cycle: int, **lists: list[Incident]) -> LedgerUpdate:
    return LedgerUpdate(cycle=cycle, **lists)


def gate_after_first_answer(*open_incidents: Incident) -> CallGate:
    gate = CallGate(CallPolicy.ON_CHANGE, heartbeat_cycles=12)
    first = update(1, new=list(open_incidents))
    assert gate.decide(first).reason is CallReason.FIRST
    gate.answered(first)
    return gate


def test_every_cycle_always_asks() -> None:
    decision = decide(
        update(5), CallState(last_call_cycle=4), policy=CallPolicy.EVERY_CYCLE, heartbeat_cycles=1
    )
    assert decision.call and decision.reason is CallReason.EVERY_CYCLE


def test_nothing_changed_is_quiet_until_the_heartbeat() -> None:
    gate = gate_after_first_answer()
    reasons = []
    for cycle in range(2, 15):
        decision = gate.decide(update(cycle))
        reasons.append(decision.reason)
        if decision.call:
            gate.answered(update(cycle))
        else:
            gate.skipped(update(cycle))
    assert reasons[:11] == [CallReason.QUIET] * 11
    assert reasons[11] is CallReason.HEARTBEAT  # cycle 13 = 1 + 12
    assert reasons[12] is CallReason.QUIET


@pytest.mark.parametrize(
    ("lists", "reason"),
    [
        ({"new": [incident("other")]}, CallReason.NEW),
        ({"resolved": [incident(status=IncidentStatus.RESOLVED)]}, CallReason.RESOLVED),
        ({"flapping": [incident(status=IncidentStatus.FLAPPING)]}, CallReason.FLAPPING),
        ({"recurring": [incident(trend=Trend.WORSENING)]}, CallReason.WORSENING),
        ({"recurring": [incident(severity=Severity.WARNING)]}, CallReason.CHANGED),
        (
            {"recurring": [incident(evidence={"container": "app", "last_exit_code": 137})]},
            CallReason.CHANGED,
        ),
    ],
)
def test_a_change_asks_the_model(lists: dict[str, list[Incident]], reason: CallReason) -> None:
    gate = gate_after_first_answer(incident())
    decision = gate.decide(update(2, **lists))
    assert decision.call and decision.reason is reason


def test_moving_counters_are_not_news() -> None:
    gate = gate_after_first_answer(incident())
    restarted = incident(evidence={"container": "app", "restart_count": 9, "last_exit_code": 1})
    assert gate.decide(update(2, recurring=[restarted])).reason is CallReason.QUIET


def test_the_quiet_stretch_is_folded_into_the_next_call_once() -> None:
    gate = gate_after_first_answer()
    for cycle in range(2, 6):
        gate.skipped(update(cycle))
    decision = gate.decide(update(6, new=[incident()]))
    assert decision.quiet_cycles == (2, 5)
    assert quiet_line(decision.quiet_cycles) == (
        "cycles 2-5 quiet, no change (not sent to you; the ledger covers them)."
    )
    gate.answered(update(6, new=[incident()]))
    assert gate.decide(update(7, resolved=[incident()])).quiet_cycles is None


def test_a_failed_call_is_retried_next_cycle() -> None:
    gate = gate_after_first_answer()
    changed = update(2, new=[incident()])
    assert gate.decide(changed).call
    # The call failed: nothing recorded, so the same incident still differs next cycle.
    assert gate.decide(update(3, recurring=[incident()])).reason is CallReason.CHANGED


def test_a_quiet_day_costs_at_most_ten_calls_with_the_defaults() -> None:
    settings = load_settings(_env_file=None)
    gate = CallGate(settings.llm_call_policy, settings.llm_heartbeat_cycles)
    cycles_per_day = int(24 * 60 / settings.monitoring_interval_minutes)
    calls = 0
    for cycle in range(1, cycles_per_day + 1):
        if gate.decide(update(cycle)).call:
            calls += 1
            gate.answered(update(cycle))
        else:
            gate.skipped(update(cycle))
    assert calls <= 10
    assert calls == 1 + (cycles_per_day - 1) // settings.llm_heartbeat_cycles


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("llm_call_policy", "sometimes"),
        ("llm_heartbeat_cycles", "0"),
        ("llm_heartbeat_cycles", "x"),
    ],
)
def test_invalid_policy_settings_name_the_variable(field: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, **{field: value})
    assert caught.value.setting == field.upper()


def test_nested_times_are_not_news_but_nested_reasons_are() -> None:
    def with_conditions(since: str, reason: str) -> Incident:
        conditions = [{"type": "Available", "reason": reason, "since": since}]
        return incident(evidence={"conditions": conditions})

    gate = gate_after_first_answer(with_conditions("09:00", "MinimumReplicasUnavailable"))
    later = with_conditions("09:15", "MinimumReplicasUnavailable")
    assert gate.decide(update(2, recurring=[later])).reason is CallReason.QUIET
    other = with_conditions("09:15", "ProgressDeadlineExceeded")
    assert gate.decide(update(2, recurring=[other])).reason is CallReason.CHANGED
