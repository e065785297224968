"""A week of memory: persistent mode, on-change, a context budget, and a day-1 incident recalled.

Seven simulated days of 96 cycles (15 minutes each) through the persistent conversation and the
call gate, as the daemon runs them, against the scripted fake. Every day brings its own
incidents; the session is pruned and compacted several times. On day 8 the request sent to the
model still carries the day-1 incident: what it was, when it was first seen, what the model said
about it then, and how it ended.
"""

from __future__ import annotations

import dataclasses
import json

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.config import CallPolicy
from k8s_monitor.converse import AnalysisSource, build_conversation
from k8s_monitor.converse.policy import CallGate
from k8s_monitor.sessions import SessionManager
from tests.builders import finding
from tests.unit.llm.helpers import CycleFeed

DAY = 96


def incidents_on(cycle: int) -> list:
    """Day 1: checkout crash-loops (cycles 20-34). Each later day: two incidents of its own."""
    day, minute = divmod(cycle - 1, DAY)
    found = []
    if day == 0 and 20 <= minute + 1 <= 34:
        found.append(
            finding(
                "checkout",
                Severity.CRITICAL,
                message="ledger-db refused the connection: password authentication failed",
            )
        )
    for index, start in enumerate((30, 60)):
        if day > 0 and start <= minute + 1 <= start + 8:
            found.append(finding(f"day{day + 1}-svc{index}", Severity.WARNING, reason="OOMKilled"))
    return found


def test_a_week_later_the_day_one_incident_is_still_in_the_request(
    fake, make_settings, make_provider, tmp_path
):
    settings = make_settings(
        max_context_tokens=5_000, cycle_message_max_tokens=1_000, llm_max_output_tokens=512
    )
    sessions = SessionManager.from_settings(settings)
    conversation = build_conversation(settings, sessions, provider=make_provider())
    gate = CallGate(CallPolicy.ON_CHANGE, settings.llm_heartbeat_cycles)
    feed = CycleFeed()
    prunes = 0
    day_one_first_seen = None
    for cycle in range(1, 7 * DAY + 2):
        data = feed.next(incidents_on(cycle))
        if day_one_first_seen is None and data.ledger_update.new:
            day_one_first_seen = data.now.isoformat()
        update = data.ledger_update
        decision = gate.decide(update)
        if not decision.call:
            gate.skipped(update)
            continue
        outcome = conversation.converse(
            dataclasses.replace(
                data,
                quiet_cycles=decision.quiet_cycles,
                cache_prefix=decision.cache_prefix(update),
            )
        )
        assert outcome.source is AnalysisSource.MODEL, outcome.error
        assert outcome.context_tokens <= settings.max_context_tokens
        gate.answered(update)
        prunes += int(outcome.pruned)
    conversation.close()

    assert prunes >= 2, "a week must not fit without pruning at this budget"
    assert feed.ledger.cycle == 7 * DAY + 1
    # The ledger keeps resolved incidents for a day: only the session remembers day 1 now.
    assert not any("checkout" in str(i.finding.subject) for i in feed.ledger.incidents.values())
    sent = json.dumps(fake.bodies()[-1])
    assert "CrashLoopBackOff Deployment/shop/checkout" in sent
    assert f"at {day_one_first_seen}" in sent  # when it was first seen
    assert "resolved" in sent  # how it ended
    (line,) = [x for x in sent.split("\\n") if "Deployment/shop/checkout, first seen" in x]
    assert "analysis then:" in line and "checkout" in line.split("analysis then:", 1)[1]
    calls = len(fake.bodies())
    assert calls < 7 * DAY / 4, f"on-change asked {calls} times in a week"
