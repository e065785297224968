"""The conversation with the real SessionManager: the contract, not a double."""

from __future__ import annotations

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.converse import AnalysisSource, build_conversation
from k8s_monitor.sessions import SessionManager
from tests.builders import finding
from tests.fakes.anthropic_server import Fault
from tests.unit.llm.helpers import CycleFeed


def test_offline_persistent_with_real_manager(make_settings):
    settings = make_settings(llm_provider="offline", anthropic_api_key=None)
    manager = SessionManager.from_settings(settings)
    conversation = build_conversation(settings, manager)
    feed = CycleFeed()
    for _ in range(3):
        outcome = conversation.converse(feed.next([finding("api", Severity.CRITICAL)]))
        assert outcome.source is AnalysisSource.OFFLINE
        assert outcome.session_saved
    loaded = manager.load_session(settings.session_id)
    assert len(loaded["conversation_history"]) == 6
    assert loaded["state"]["converse"]["last_cycle"] == 3
    assert 0 < outcome.context_ratio < 1


def test_model_turns_and_failure_with_real_manager(fake, make_settings):
    settings = make_settings()
    manager = SessionManager.from_settings(settings)
    conversation = build_conversation(settings, manager)
    assert manager.token_counter.count_fn is not None  # count_tokens wired for pruning
    feed = CycleFeed()
    first = conversation.converse(feed.next([finding("api", Severity.CRITICAL)]))
    assert first.source is AnalysisSource.MODEL
    assert manager.token_counter.samples == 1  # calibrated from the response's usage
    path = settings.session_dir / f"{settings.session_id}.json"
    before = path.read_bytes()
    fake.inject(Fault("overloaded"))
    failed = conversation.converse(feed.next([finding("api", Severity.CRITICAL)]))
    assert failed.source is AnalysisSource.FALLBACK
    assert path.read_bytes() == before
    counted = manager.token_counter.count_fn(None, [{"role": "user", "content": "hello"}])
    assert counted > 0


def test_threshold_prune_with_real_manager(fake, make_settings):
    settings = make_settings(max_context_tokens=4_000, cycle_message_max_tokens=500)
    manager = SessionManager.from_settings(settings)
    conversation = build_conversation(settings, manager)
    feed = CycleFeed()
    findings = [finding(f"svc{i}", Severity.WARNING) for i in range(6)]
    outcomes = [conversation.converse(feed.next(findings)) for _ in range(12)]
    assert any(o.pruned for o in outcomes)
    assert all(o.source is AnalysisSource.MODEL for o in outcomes)
    assert max(o.context_tokens for o in outcomes) <= settings.max_context_tokens
    assert fake.stats.rejected == 0
