"""Comparison mode: every mode on the same snapshots, and COMPARE_MODES in the daemon."""

from __future__ import annotations

import json

import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.cli import main
from k8s_monitor.compare import DEFAULT_MODES, CompareOptions, Mode, run_compare
from k8s_monitor.config import Settings
from k8s_monitor.converse import AnalysisSource, ComparingConversation, build_conversation
from tests.builders import finding
from tests.unit.llm.helpers import CycleFeed


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
    assert set(modes) == {m.value for m in DEFAULT_MODES}
    for name, values in modes.items():
        assert values["cycles"] == 4
        assert values["rejected_requests"] == 0
        if name not in ("persistent_on_change", "stateless_on_change"):
            assert values["requests"] == 4, name
    # The naive baseline resends the full state and history uncached: it is the expensive one.
    # Over four cycles the cache's write premium (2x for the 1 h TTL) still weighs (about 0.5);
    # the 24-cycle tokens bench holds the long-run targets.
    assert result["ratios"]["persistent_every_cycle_vs_naive_persistent"] < 0.7
    naive = modes["naive_persistent"]
    assert naive["cache_read_tokens"] == 0 and naive["cache_write_1h_tokens"] == 0
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
            modes=(Mode.PERSISTENT_EVERY_CYCLE, Mode.STATELESS),
        ),
        provider_factory=lambda _mode: make_provider(),
        work_dir=tmp_path / "compare",
    )
    for values in result["modes"].values():
        assert values["requests"] == 2
        assert values["rejected_requests"] == 0
    assert result["ratios"]["persistent_every_cycle_vs_stateless"] is not None


@pytest.mark.xdist_group("simulator")
def test_compare_keys_incidents_by_root_cause_as_the_daemon_does():
    # A lost node and the 20 symptoms of its pods: the daemon's cycle opens one incident.
    result = run_compare(
        Settings(_env_file=None, llm_provider="offline"),
        CompareOptions(
            scenario="node-outage",
            cycles=2,
            interval_minutes=15,
            modes=(Mode.PERSISTENT_EVERY_CYCLE,),
        ),
        provider_factory=lambda _mode: None,
    )
    assert result["modes"]["persistent_every_cycle"]["incidents_reported"] == 1


def test_naive_baseline_resends_history_with_our_renderer_without_caching(
    fake, make_settings, make_provider, tmp_path
):
    from k8s_monitor.compare import _conversation

    settings = make_settings()
    naive = _conversation(
        Mode.NAIVE_PERSISTENT, settings, make_provider(), lambda t: t, tmp_path / "naive"
    )
    feed = CycleFeed()
    for _ in range(3):
        outcome = naive.converse(feed.next([finding("api", Severity.CRITICAL)]))
        assert outcome.source is AnalysisSource.MODEL
    bodies = fake.bodies()
    assert [len(b["messages"]) for b in bodies] == [1, 3, 5]
    assert "cache_control" not in json.dumps(bodies)
    # the full state every cycle, rendered as ours is: never a delta
    assert all('kind="full"' in b["messages"][-1]["content"][0]["text"] for b in bodies)


def test_raw_dump_extra_resends_the_dump(fake, make_settings, make_provider, tmp_path):
    from k8s_monitor.compare import _conversation

    raw = _conversation(Mode.RAW_DUMP, make_settings(), make_provider(), lambda t: t, tmp_path)
    feed = CycleFeed()
    for _ in range(2):
        raw.converse(feed.next([finding("api", Severity.CRITICAL)]))
    bodies = fake.bodies()
    assert all("Full cluster state:" in b["messages"][-1]["content"][0]["text"] for b in bodies)


def test_on_change_mode_skips_quiet_cycles_and_folds_them(
    fake, make_settings, make_provider, tmp_path
):
    from k8s_monitor.compare import _conversation, _gate, _turn

    settings = make_settings(llm_heartbeat_cycles=50)
    mode = Mode.PERSISTENT
    conversation = _conversation(mode, settings, make_provider(), lambda t: t, tmp_path)
    gate = _gate(mode, settings)
    feed = CycleFeed()
    called = [
        _turn(conversation, gate, feed.next([finding("api", Severity.CRITICAL)]))[1]
        for _ in range(4)
    ]
    assert called == [True, False, False, False]
    outcome, asked = _turn(conversation, gate, feed.next([]))  # resolved
    assert asked and outcome.source is AnalysisSource.MODEL
    last = fake.bodies()[-1]["messages"][-1]["content"][0]["text"]
    assert "cycles 2-4 quiet, no change" in last


def test_ground_truth_scores_new_recurring_resolved_by_fault_key():
    from k8s_monitor.analysis.incidents import LedgerUpdate
    from k8s_monitor.compare import TruthScore
    from k8s_monitor.converse.offline import deterministic_analysis
    from tests.unit.llm.helpers import CycleFeed as Feed

    feed = Feed()
    score = TruthScore()
    crash = finding("api", Severity.CRITICAL)
    script = [
        ([crash], {"shop/api": "new"}),
        ([crash], {"shop/api": "recurring"}),
        ([], {"shop/api": "resolved"}),
        ([finding("other", Severity.WARNING)], {}),  # not scripted: a false positive
    ]
    for cycle, (found, truth) in enumerate(script, start=1):
        data = feed.next(found)
        update = data.ledger_update
        assert isinstance(update, LedgerUpdate)
        score.add(cycle, truth, update, deterministic_analysis(data, reason="t"))
    result = score.to_json()
    assert result["cycles_scored"] == 4
    assert result["ledger_agreement"] == 1.0
    assert result["offline_report_agreement"] == 1.0
    assert result["unscripted_incidents"] == ["Deployment/shop/other"]


@pytest.mark.xdist_group("simulator")
def test_compare_cli_offline_prints_json(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_PROVIDER", "offline")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["compare", "--cycles", "2", "--no-seed", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["modes"]) == {"persistent_every_cycle", "persistent_on_change", "stateless"}
    assert result["modes"]["persistent_on_change"]["cycles"] == 2
    assert result["modes"]["persistent_on_change"]["requests"] == 0


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
