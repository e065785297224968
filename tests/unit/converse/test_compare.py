"""Comparison mode: every mode on the same snapshots, and COMPARE_MODES in the daemon."""

from __future__ import annotations

import json

import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.cli import main
from k8s_monitor.compare import CompareOptions, Mode, run_compare
from k8s_monitor.converse import AnalysisSource, ComparingConversation, build_conversation
from tests.unit.llm.helpers import CycleFeed, finding


@pytest.mark.slow
@pytest.mark.xdist_group("simulator")
def test_compare_runs_every_mode_on_the_same_cycles(fake, make_settings, make_provider, tmp_path):
    settings = make_settings()
    result = run_compare(
        settings,
        CompareOptions(scenario="incident-day", cycles=4, interval_minutes=15),
        provider_factory=lambda _mode: make_provider(),
        after_cycle=lambda _cycle: fake.advance(900),
        work_dir=tmp_path / "compare",
    )
    modes = result["modes"]
    assert set(modes) == {m.value for m in Mode}
    for values in modes.values():
        assert values["cycles"] == 4
        assert values["requests"] == 4
        assert values["rejected_requests"] == 0
    assert modes["persistent"]["ledger_agreement"] == 1.0
    # the seed baseline sends the whole dump every cycle: it is the expensive one
    assert result["ratios"]["persistent_vs_seed_persistent"] < 0.5
    seed = modes["seed_persistent"]
    assert seed["cache_read_tokens"] == 0 and seed["cache_write_1h_tokens"] == 0
    assert fake.stats.rejected == 0


@pytest.mark.xdist_group("simulator")
def test_compare_persistent_and_stateless_see_the_same_cycles(
    fake, make_settings, make_provider, tmp_path
):
    result = run_compare(
        make_settings(),
        CompareOptions(
            scenario="incident-day",
            cycles=2,
            interval_minutes=15,
            modes=(Mode.PERSISTENT, Mode.STATELESS),
        ),
        provider_factory=lambda _mode: make_provider(),
        work_dir=tmp_path / "compare",
    )
    for values in result["modes"].values():
        assert values["requests"] == 2
        assert values["ledger_agreement"] == 1.0
        assert values["rejected_requests"] == 0
    assert result["ratios"]["persistent_vs_stateless"] is not None


def test_seed_baseline_resends_history_and_dump_without_caching(
    fake, make_settings, make_provider, tmp_path
):
    from k8s_monitor.compare import _conversation

    settings = make_settings()
    seed = _conversation(
        Mode.SEED_PERSISTENT, settings, make_provider(), lambda t: t, tmp_path / "seed"
    )
    feed = CycleFeed()
    for _ in range(3):
        outcome = seed.converse(feed.next([finding("api", Severity.CRITICAL)]))
        assert outcome.source is AnalysisSource.MODEL
    bodies = fake.bodies()
    assert [len(b["messages"]) for b in bodies] == [1, 3, 5]
    assert "cache_control" not in json.dumps(bodies)
    assert all("Full cluster state:" in b["messages"][-1]["content"][0]["text"] for b in bodies)


@pytest.mark.xdist_group("simulator")
def test_compare_cli_offline_prints_json(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_PROVIDER", "offline")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["compare", "--cycles", "2", "--no-seed", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["modes"]) == {"persistent", "stateless"}
    assert result["modes"]["persistent"]["cycles"] == 2
    assert result["modes"]["persistent"]["requests"] == 0


def test_compare_modes_setting_runs_both_and_adds_usage(fake, sessions, make_settings):
    settings = make_settings(compare_modes=True, enable_long_context=False)
    conversation = build_conversation(settings, sessions)
    assert isinstance(conversation, ComparingConversation)
    outcome = conversation.converse(CycleFeed().next([finding("api", Severity.CRITICAL)]))
    assert outcome.source is AnalysisSource.MODEL
    assert outcome.mode == "stateless"  # the primary answers
    assert outcome.usage.requests == 2  # and the shadow's tokens are counted
    assert sessions.saves == 1  # the persistent shadow saved its turn
    conversation.close()


def test_compare_modes_shadow_failure_never_costs_the_primary(fake, make_settings, tmp_path):
    from k8s_monitor.errors import StorageError
    from tests.unit.llm.helpers import FileSessions

    class Unwritable(FileSessions):
        def save_session(self, *args, **kwargs):
            raise StorageError("read-only")

    settings = make_settings(compare_modes=True, enable_long_context=False)
    conversation = build_conversation(settings, Unwritable(tmp_path))
    outcome = conversation.converse(CycleFeed().next([finding("api", Severity.CRITICAL)]))
    assert outcome.source is AnalysisSource.MODEL
    assert outcome.mode == "stateless"
