from __future__ import annotations

import json

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.config import Settings
from k8s_monitor.converse import AnalysisSource, build_conversation
from tests.builders import finding
from tests.unit.llm.helpers import CycleFeed, FileSessions


def _settings(tmp_path, **overrides) -> Settings:
    return Settings(
        _env_file=None,
        llm_provider="offline",
        session_dir=tmp_path,
        report_dir=tmp_path / "reports",
        **overrides,
    )


def test_stateless_offline_builds_deterministic_analysis(tmp_path):
    sessions = FileSessions(tmp_path)
    conversation = build_conversation(_settings(tmp_path), sessions)
    feed = CycleFeed()
    data = feed.next([finding("api", Severity.CRITICAL), finding("web")])
    outcome = conversation.converse(data)
    assert outcome.source is AnalysisSource.OFFLINE
    assert outcome.analysis.overall_health == "critical"
    assert set(outcome.analysis.new_fingerprints) == {i.fingerprint for i in data.update.new}
    assert outcome.error is None
    assert outcome.usage.requests == 0
    assert not outcome.session_saved
    assert sessions.saves == 0  # stateless never writes the session
    assert outcome.context_tokens > 0


def test_persistent_offline_appends_and_saves_each_cycle(tmp_path):
    sessions = FileSessions(tmp_path)
    settings = _settings(tmp_path, enable_long_context=True)
    conversation = build_conversation(settings, sessions)
    feed = CycleFeed()
    first = conversation.converse(feed.next([finding("api", Severity.CRITICAL)]))
    second = conversation.converse(feed.next([finding("api", Severity.CRITICAL)]))
    third = conversation.converse(feed.next([]))
    assert first.session_saved and second.session_saved and third.session_saved
    stored = sessions.load_session(settings.session_id)
    history = stored["conversation_history"]
    assert [m["role"] for m in history] == ["user", "assistant"] * 3
    assert [m["meta"]["kind"] for m in history[::2]] == ["cycle_full", "cycle_delta", "cycle_delta"]
    assert json.loads(history[1]["content"])["overall_health"] == "critical"
    assert third.analysis.overall_health == "healthy"
    assert third.analysis.resolved_fingerprints == [finding("api").fingerprint]
    assert stored["state"]["converse"]["last_cycle"] == 3
    assert stored["metadata"]["cycles"] == 3


def test_persistent_keeps_foreign_state_keys(tmp_path):
    sessions = FileSessions(tmp_path)
    settings = _settings(tmp_path, enable_long_context=True)
    sessions.save_session(settings.session_id, [], {}, state={"other": {"x": 1}})
    build_conversation(settings, sessions).converse(CycleFeed().next([]))
    assert sessions.load_session(settings.session_id)["state"]["other"] == {"x": 1}


def test_storage_failures_propagate_and_leave_the_session(tmp_path):
    """The cycle logs and counts storage errors per stage; the conversation does not hide them."""
    import pytest

    from k8s_monitor.errors import SessionDecryptError, StorageError

    class Broken(FileSessions):
        def __init__(self, directory, fail_on):
            super().__init__(directory)
            self.fail_on = fail_on

        def load_session(self, session_id):
            if self.fail_on == "load":
                raise SessionDecryptError("no key opens it")
            return super().load_session(session_id)

        def save_session(self, *args, **kwargs):
            if self.fail_on == "save":
                raise StorageError("disk full")
            return super().save_session(*args, **kwargs)

    settings = _settings(tmp_path, enable_long_context=True)
    for fail_on, error in (("load", SessionDecryptError), ("save", StorageError)):
        conversation = build_conversation(settings, Broken(tmp_path, fail_on))
        with pytest.raises(error):
            conversation.converse(CycleFeed().next([finding("api", Severity.CRITICAL)]))
    assert not (tmp_path / f"{settings.session_id}.json").exists()


def test_offline_analysis_names_the_cause_first(tmp_path):
    from msgspec.structs import replace

    from k8s_monitor.analysis.findings import CauseRef

    quota = CauseRef(kind="ResourceQuota", namespace="shop", name="compute", reason="QuotaExceeded")
    refused = replace(finding("catalog", Severity.CRITICAL, reason="FailedCreate"), caused_by=quota)
    conversation = build_conversation(_settings(tmp_path), FileSessions(tmp_path))
    outcome = conversation.converse(CycleFeed().next([refused, finding("web")]))
    summary = outcome.analysis.summary
    assert "caused by ResourceQuota/shop/compute (QuotaExceeded)" in summary
    first = outcome.analysis.recommended_actions[0]
    assert first.startswith("Investigate ResourceQuota/shop/compute (QuotaExceeded), the cause")
    assert "FailedCreate on Deployment/shop/catalog" in first
