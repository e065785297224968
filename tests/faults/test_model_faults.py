"""Model API faults through the fake server: the daemon survives, retries stay bounded.

Each failing cycle is the one where a new critical incident appears, so the test also sees the
deterministic page go out while the model is failing, and that the session stays untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_monitor.report import Outcome
from tests.fakes.anthropic_server import Fault
from tests.faults.harness import Rig, rig, session_cycles, turn_problems

MAX_RETRIES = 2
CRASHLOOP_STEP = 1

# kind -> (fault, most /v1/messages requests one failing cycle may make)
FAULTS: dict[str, tuple[Fault, int]] = {
    "rate-limit-429": (Fault("rate_limit", count=50, retry_after_ms=20), 1 + MAX_RETRIES),
    "overloaded-529": (Fault("overloaded", count=50), 1 + MAX_RETRIES),
    "server-error-500": (Fault("server_error", count=50), 1 + MAX_RETRIES),
    "bad-request-400": (Fault("bad_request", count=50), 1),
    "timeout": (Fault("slow", count=50, delay_seconds=1.0), 1 + MAX_RETRIES),
    "connection-reset": (Fault("reset", count=50), 1 + MAX_RETRIES),
    "malformed-body": (Fault("malformed", count=50), 1 + MAX_RETRIES),
    "html-page-200": (Fault("html", count=50), 1 + MAX_RETRIES),
    "spend-limit-429": (Fault("spend_limit", count=50), 1),
}


def _requests(r: Rig) -> int:
    return len(r.fake.bodies("/v1/messages"))


def _clear_faults(r: Rig) -> None:
    with r.fake._lock:
        r.fake._faults.clear()


def _alerts_for_cycle(r: Rig, cycle: int) -> list[dict[str, object]]:
    return [
        x.body
        for x in r.receiver.received
        if x.body["kind"] == "alert" and x.body["cycle"] == cycle
    ]


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_model_fault_is_survived_with_bounded_retries_and_an_untouched_session(
    tmp_path: Path, name: str
) -> None:
    fault, max_requests = FAULTS[name]
    with rig(tmp_path) as r:
        monitor = r.monitor(llm_max_retries=MAX_RETRIES, llm_timeout_seconds=0.4)
        try:
            first = monitor.runner.run()
            assert first.analysis_source == "model", first.error
            sent_before = _requests(r)
            before = r.session_bytes()

            r.sim.goto(CRASHLOOP_STEP)
            r.fake.inject(fault)
            failed = monitor.runner.run()
            made = _requests(r) - sent_before
            untouched = r.session_bytes() == before
            _clear_faults(r)
            after = monitor.runner.run()
        finally:
            monitor.close()

    assert failed.analysis_source == "fallback", (name, failed.error)
    assert failed.outcome is Outcome.DEGRADED
    assert untouched, "a failed cycle leaves the session byte-identical"
    assert 1 <= made <= max_requests, f"{name}: {made} requests for one cycle"
    print(f"FIGURE model-fault {name}: requests={made} max={max_requests}")
    assert _alerts_for_cycle(r, failed.cycle), "the deterministic page went out anyway"
    session = r.load_session()
    assert session is not None
    assert turn_problems(session) == []
    assert failed.cycle not in session_cycles(session), "a failed cycle leaves no turn"
    if name == "spend-limit-429":
        # Spend limit disables the provider until restart: reports go on without the model.
        assert after.analysis_source == "fallback"
    else:
        assert after.analysis_source == "model", (name, after.error)
        assert after.cycle in session_cycles(session)


def test_failed_model_cycle_leaves_session_byte_identical(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(llm_max_retries=1)
        try:
            monitor.runner.run()
            before = r.session_bytes()
            r.fake.inject(Fault("server_error", count=10))
            failed = monitor.runner.run()
            _clear_faults(r)
        finally:
            monitor.close()
        assert failed.analysis_source == "fallback"
        assert r.session_bytes() == before


def test_one_429_is_retried_after_the_server_says_and_then_answers(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(llm_max_retries=MAX_RETRIES)
        try:
            sent_before = _requests(r)
            r.fake.inject(Fault("rate_limit", count=1, retry_after_ms=50))
            report = monitor.runner.run()
        finally:
            monitor.close()
        assert report.analysis_source == "model", report.error
        assert _requests(r) - sent_before == 2


def test_stateless_mode_survives_a_model_outage_and_still_pages(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor(enable_long_context=False, llm_max_retries=1)
        try:
            monitor.runner.run()
            r.sim.goto(CRASHLOOP_STEP)
            r.fake.inject(Fault("overloaded", count=50))
            failed = monitor.runner.run()
            _clear_faults(r)
            after = monitor.runner.run()
        finally:
            monitor.close()
        assert failed.analysis_source == "fallback"
        assert _alerts_for_cycle(r, failed.cycle)
        assert after.analysis_source == "model", after.error
        assert r.session_bytes() is None, "stateless mode never writes a session"
