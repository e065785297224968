"""Pruning: the seed's rules, API validity, hysteresis, budgets and compaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8s_monitor.sessions import SessionManager, normalize_for_api
from k8s_monitor.sessions.messages import KIND_COMPACTION, content_text, kind_of
from k8s_monitor.sessions.pruning import KeywordMatcher, keyword_pattern
from tests.unit.sessions.helpers import api_problems, histories, history_of, turn

PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def manager(tmp_path: Path, max_tokens: int = 120_000) -> SessionManager:
    return SessionManager(tmp_path, max_tokens)


# --- the seed's simple prune --------------------------------------------------------------------


def test_prune_old_messages_keeps_system_and_latest_fifty(tmp_path: Path) -> None:
    history = history_of(60)
    pruned = manager(tmp_path).prune_old_messages(history)
    assert pruned[0] is history[0]
    assert [m for m in pruned if m["role"] != "system"] == history[-50:]


def test_prune_old_messages_respects_max_tokens(tmp_path: Path) -> None:
    history = history_of(60, text="x" * 400)
    mgr = manager(tmp_path)
    pruned = mgr.prune_old_messages(history, max_tokens=2_000)
    assert mgr.count_tokens(pruned) <= 2_000
    assert pruned[-1] is history[-1]
    assert not api_problems(pruned)


# --- smart prune --------------------------------------------------------------------------------


def test_keywords_match_whole_words_only() -> None:
    pattern = keyword_pattern(["down", "error"])
    assert pattern is not None
    assert pattern.search("node DOWN since 3 minutes")
    assert pattern.search("error: ImagePullBackOff")
    assert not pattern.search("breakdown of downstream services")
    assert not pattern.search("errors_total rose")


def test_smart_prune_keeps_critical_and_recent_in_order_without_duplicates(tmp_path: Path) -> None:
    history = history_of(50)
    history[11] = {"role": "user", "content": "cycle 5: node down", "meta": {"cycle": 5}}
    history[21] = {"role": "user", "content": "cycle 10: a breakdown", "meta": {"cycle": 10}}
    pruned = manager(tmp_path).smart_prune(history)
    originals = [m for m in pruned if any(m is h for h in history)]
    positions = [next(i for i, h in enumerate(history) if h is m) for m in originals]
    assert positions == sorted(positions)
    assert len({id(m) for m in pruned}) == len(pruned)
    assert history[11] in pruned and history[12] in pruned  # the critical turn, whole
    assert history[21] not in pruned  # "breakdown" is not "down"
    kept = {id(m) for m in pruned}
    assert all(id(m) in kept for m in history[-30:])


def test_smart_prune_replaces_dropped_turns_with_one_summary(tmp_path: Path) -> None:
    history = history_of(60)
    history[3]["meta"] = {"cycle": 1, "fingerprints": ["fp-a"], "at": "2026-01-01T00:00:00+00:00"}
    history[5]["meta"] = {"cycle": 2, "fingerprints": ["fp-a"], "at": "2026-01-01T00:15:00+00:00"}
    result = manager(tmp_path).prune_to_budget(history)
    summaries = [m for m in result.history if kind_of(m) == KIND_COMPACTION]
    assert result.compacted and len(summaries) == 1
    text = summaries[0]["content"]
    assert "cycles 0-44" in text
    assert "fp-a" in text and "first seen cycle 1" in text and "last seen cycle 2" in text
    assert "in 2 cycles" in text
    assert result.history.index(summaries[0]) == 1  # where the dropped turns stood
    assert not api_problems(result.history)


def test_repeated_prunes_fold_earlier_summaries(tmp_path: Path) -> None:
    mgr = manager(tmp_path)
    first = mgr.smart_prune(history_of(60))
    extended = first + [m for c in range(60, 100) for m in turn(c, f"cycle {c}")]
    second = mgr.smart_prune(extended)
    summaries = [m for m in second if kind_of(m) == KIND_COMPACTION]
    assert len(summaries) == 1
    assert "cycles 0-84" in summaries[0]["content"]
    assert summaries[0]["meta"]["dropped_messages"] == 170


def test_compaction_uses_the_ledger(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from k8s_monitor.analysis.findings import Severity
    from k8s_monitor.analysis.incidents import IncidentStatus, Ledger
    from tests import builders
    from tests.builders import finding

    found = finding("cart", Severity.CRITICAL, message="crashing", evidence={}, objects=())
    at = datetime(2026, 1, 1, tzinfo=UTC)
    incident = builders.incident(
        found,
        status=IncidentStatus.RESOLVED,
        at=at,
        first_cycle=3,
        last_cycle=9,
        cycles_seen=7,
    )
    ledger = Ledger(cycle=60, incidents={incident.fingerprint: incident})
    result = manager(tmp_path).prune_to_budget(history_of(60), ledger=ledger)
    text = next(m["content"] for m in result.history if kind_of(m) == KIND_COMPACTION)
    assert "critical CrashLoopBackOff Deployment/shop/cart" in text
    assert "first seen cycle 3" in text and "in 7 cycles" in text and "resolved" in text


def test_compaction_is_deterministic(tmp_path: Path) -> None:
    history = history_of(80)
    assert manager(tmp_path).smart_prune(history) == manager(tmp_path).smart_prune(history)


def test_critical_messages_alone_cannot_break_the_budget(tmp_path: Path) -> None:
    history = history_of(200, text="error " * 100)
    mgr = manager(tmp_path, max_tokens=5_000)
    result = mgr.prune_to_budget(history)
    assert result.tokens_after <= mgr.target_tokens
    assert result.history[-1] is history[-1]


def test_oversized_latest_turn_is_truncated_not_kept_whole(tmp_path: Path) -> None:
    history = [*history_of(3), {"role": "user", "content": "y" * 100_000}]
    mgr = manager(tmp_path, max_tokens=4_000)
    result = mgr.prune_to_budget(history)
    assert result.tokens_after <= mgr.target_tokens
    assert "truncated" in result.history[-1]["content"]


def test_should_prune_uses_the_threshold(tmp_path: Path) -> None:
    mgr = manager(tmp_path, max_tokens=10_000)
    small = history_of(5)
    big = history_of(5, text="z" * 40_000)
    assert not mgr.should_prune(small)
    assert mgr.should_prune(big)


def test_should_prune_asks_count_fn_near_the_threshold(tmp_path: Path) -> None:
    from k8s_monitor.sessions import TokenCounter

    calls: list[int] = []

    def count_fn(system: str | None, messages: list[dict]) -> int:
        calls.append(len(messages))
        return 10_000

    mgr = SessionManager(tmp_path, 10_000, token_counter=TokenCounter(count_fn=count_fn))
    near = history_of(1, text="q" * 30_000)  # about 7,500 tokens: within 10 % of 8,000
    assert mgr.should_prune(near)
    assert calls == [2]
    assert not mgr.should_prune(history_of(1))  # far below: no call
    assert calls == [2]


def test_hysteresis_prunes_well_below_the_threshold(tmp_path: Path) -> None:
    mgr = manager(tmp_path, max_tokens=20_000)
    history = history_of(200, text="w" * 300)
    assert mgr.should_prune(history)
    result = mgr.prune_to_budget(history)
    assert result.tokens_after <= 10_000
    assert not mgr.should_prune(result.history)


def test_normalize_repairs_roles_empties_and_orphans() -> None:
    broken = [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "leading"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "  "},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "zz", "content": "r"}]},
        {"role": "assistant", "content": "done"},
    ]
    fixed = normalize_for_api(broken)
    assert not api_problems(fixed)
    assert fixed[1]["content"] == "a\n\nb"
    assert broken[2]["content"] == "a"  # the input is not modified


# --- properties -------------------------------------------------------------------------------


def _original_positions(output: list[dict], history: list[dict]) -> list[int]:
    index = {id(m): i for i, m in enumerate(history)}
    return [index[id(m)] for m in output if id(m) in index]


@PROPERTY
@given(history=histories(), budget=st.integers(2_000, 20_000))
def test_property_prunes_are_api_valid_ordered_and_within_budget(
    tmp_path: Path, history: list[dict], budget: int
) -> None:
    mgr = manager(tmp_path, max_tokens=budget)
    for output, limit in (
        (mgr.prune_to_budget(history).history, mgr.target_tokens),
        (mgr.prune_old_messages(history), budget),
        (mgr.prune_old_messages(history, max_tokens=mgr.target_tokens), mgr.target_tokens),
    ):
        assert not api_problems(output)
        positions = _original_positions(output, history)
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)
        assert mgr.count_tokens(output) <= limit
        systems = [m for m in history if m["role"] == "system"]
        assert all(any(m is o for o in output) for m in systems)
        conversation = [m for m in history if m["role"] != "system"]
        if conversation and any(m["role"] == "user" for m in conversation):
            last_text = content_text(conversation[-1]["content"])
            final = [m for m in output if m["role"] != "system"][-1]
            assert last_text in content_text(final["content"])


@PROPERTY
@given(history=histories())
def test_property_critical_turns_survive_when_they_fit(tmp_path: Path, history: list[dict]) -> None:
    mgr = manager(tmp_path, max_tokens=1_000_000)
    pattern = keyword_pattern(mgr.critical_keywords)
    assert pattern is not None
    output = mgr.smart_prune(history)
    texts = [content_text(m["content"]) for m in output]
    for message in history:
        if message["role"] == "user" and pattern.search(content_text(message["content"])):
            # Kept as is, or merged with a neighbouring question that had no answer.
            assert any(content_text(message["content"]) in text for text in texts)


@PROPERTY
@given(history=histories())
def test_property_pruning_is_deterministic_and_idempotent_in_shape(
    tmp_path: Path, history: list[dict]
) -> None:
    mgr = manager(tmp_path, max_tokens=3_000)
    once = mgr.smart_prune(history)
    assert once == mgr.smart_prune(history)
    twice = mgr.smart_prune(once)
    assert sum(1 for m in twice if kind_of(m) == KIND_COMPACTION) <= 1
    assert not api_problems(twice)


def test_empty_and_system_only_histories(tmp_path: Path) -> None:
    mgr = manager(tmp_path)
    assert mgr.smart_prune([]) == []
    only = [{"role": "system", "content": "s"}]
    assert mgr.smart_prune(only) == only


@pytest.mark.parametrize("keywords", [["OUTAGE"], ["pager duty"]])
def test_configurable_keywords(tmp_path: Path, keywords: list[str]) -> None:
    history = history_of(60)
    history[5] = {"role": "user", "content": "cycle 2: Outage declared, pager duty paged"}
    mgr = SessionManager(tmp_path, critical_keywords=keywords)
    assert history[5] in mgr.smart_prune(history)


def test_simple_prune_treats_a_recent_summary_as_a_turn(tmp_path: Path) -> None:
    mgr = manager(tmp_path)
    compacted = mgr.smart_prune(history_of(60))
    assert any(kind_of(m) == KIND_COMPACTION for m in mgr.prune_old_messages(compacted))
    longer = compacted + [m for c in range(60, 100) for m in turn(c, f"cycle {c}")]
    assert not any(kind_of(m) == KIND_COMPACTION for m in mgr.prune_old_messages(longer))


def test_keyword_memo_keeps_a_bounded_amount_of_text_alive() -> None:
    """Each cycle loads the session afresh: the memo must not pin every load's messages."""
    import tracemalloc

    pattern = KeywordMatcher(["down"], cache_chars=200_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(400):  # 4M characters of distinct messages
            assert pattern.search(f"cycle {number}: node down " + "y" * 10_000)
            assert not pattern.search(f"cycle {number}: breakdown " + "z" * 10_000)
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert pattern.held_chars <= 200_000
    assert retained < 400_000, retained
