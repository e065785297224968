"""SessionManager on the seed's API: save/load, persistence, management, unicode, metadata."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from k8s_monitor.errors import InvalidSessionIdError, SessionSchemaError, StorageError
from k8s_monitor.sessions import SCHEMA_VERSION, SessionManager, TokenCounter
from tests.unit.sessions.helpers import history_of


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    history = history_of(3)
    mgr.save_session("s1", history, {"cycle_count": 3})
    loaded = mgr.load_session("s1")
    assert loaded is not None
    assert loaded["conversation_history"] == history
    assert loaded["metadata"] == {"cycle_count": 3}
    assert loaded["session_id"] == "s1"
    assert loaded["schema_version"] == SCHEMA_VERSION
    assert loaded["state"] == {}
    assert loaded["saved_at"].endswith("+00:00")


def test_load_of_a_missing_session_is_none(tmp_path: Path) -> None:
    assert SessionManager(tmp_path).load_session("nothing-here") is None
    assert SessionManager(tmp_path / "absent-dir").load_session("x") is None


def test_sessions_persist_across_managers(tmp_path: Path) -> None:
    SessionManager(tmp_path).save_session("persist", history_of(2), {"k": "v"}, state={"n": 1})
    loaded = SessionManager(tmp_path).load_session("persist")
    assert loaded is not None
    assert loaded["metadata"] == {"k": "v"}
    assert loaded["state"] == {"n": 1}


def test_state_is_kept_when_a_later_save_omits_it(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(1), {}, state={"usage": 5})
    SessionManager(tmp_path).save_session("s", history_of(2), {})
    loaded = mgr.load_session("s")
    assert loaded is not None and loaded["state"] == {"usage": 5}


def test_unicode_and_metadata_are_preserved_exactly(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    metadata = {"cluster": "prod-日本", "nested": {"list": [1, 2.5, None, True]}, "emoji_free": "é"}
    history = [
        {"role": "user", "content": "Pod ошибка 🚫 naïve — \u2028 \x00 nul"},
        {"role": "assistant", "content": [{"type": "text", "text": "✓ 好"}], "meta": {"cycle": 1}},
    ]
    mgr.save_session("uni", history, metadata)
    loaded = SessionManager(tmp_path).load_session("uni")
    assert loaded is not None
    assert loaded["conversation_history"] == history
    assert loaded["metadata"] == metadata


def test_list_and_delete(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    for name in ("b", "a.1", "c_2"):
        mgr.save_session(name, history_of(1), {})
    assert mgr.list_sessions() == ["a.1", "b", "c_2"]
    assert mgr.delete_session("b") is True
    assert mgr.delete_session("b") is False
    assert mgr.list_sessions() == ["a.1", "c_2"]
    assert mgr.load_session("b") is None
    assert not list((tmp_path / "backups").glob("b.*"))


def test_stats(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path, 10_000)
    mgr.save_session("s", history_of(4, text="x" * 400), {})
    stats = mgr.get_session_stats("s")
    assert stats is not None
    assert stats["message_count"] == 9
    assert stats["cycle_count"] == 4
    assert stats["estimated_tokens"] == mgr.count_tokens(history_of(4, text="x" * 400))
    assert stats["context_percentage"] == pytest.approx(
        100 * stats["estimated_tokens"] / 10_000, 0.01
    )
    assert stats["encrypted"] is False and stats["backups"] == 1
    assert mgr.get_session_stats("none") is None


@pytest.mark.parametrize(
    "bad", ["", "../etc/passwd", "a/b", "x" * 129, "..", "sp ace", "é", "a\x00"]
)
def test_invalid_ids_are_refused(tmp_path: Path, bad: str) -> None:
    mgr = SessionManager(tmp_path)
    with pytest.raises(InvalidSessionIdError):
        mgr.save_session(bad, [], {})
    with pytest.raises(InvalidSessionIdError):
        mgr.load_session(bad)
    with pytest.raises(InvalidSessionIdError):
        mgr.delete_session(bad)
    assert list(tmp_path.iterdir()) == []


def test_seed_format_files_load_and_migrate_on_save(tmp_path: Path) -> None:
    seed = {
        "session_id": "old",
        "conversation_history": [{"role": "user", "content": "hi"}],
        "metadata": {"from": "seed"},
        "saved_at": "2025-01-01T00:00:00",
    }
    (tmp_path / "old.json").write_text(orjson.dumps(seed, option=orjson.OPT_INDENT_2).decode())
    mgr = SessionManager(tmp_path)
    loaded = mgr.load_session("old")
    assert loaded is not None
    assert loaded["conversation_history"] == seed["conversation_history"]
    assert loaded["metadata"] == {"from": "seed"}
    mgr.save_session("old", loaded["conversation_history"], loaded["metadata"])
    raw = orjson.loads((tmp_path / "old.json").read_bytes())
    assert raw["schema_version"] == SCHEMA_VERSION and raw["checksum"].startswith("sha256:")


def test_newer_schema_is_refused_and_never_overwritten(tmp_path: Path) -> None:
    future = {
        "schema_version": SCHEMA_VERSION + 1,
        "session_id": "f",
        "conversation_history": [],
        "metadata": {},
    }
    path = tmp_path / "f.json"
    path.write_bytes(orjson.dumps(future))
    before = path.read_bytes()
    with pytest.raises(SessionSchemaError):
        SessionManager(tmp_path).load_session("f")
    with pytest.raises(SessionSchemaError):
        SessionManager(tmp_path).save_session("f", history_of(1), {})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "f.lock"]


def test_unknown_top_level_fields_survive_a_round_trip(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("u", history_of(1), {})
    path = tmp_path / "u.json"
    document = orjson.loads(path.read_bytes())
    del document["checksum"]
    document["added_by_someone"] = {"keep": True}
    path.write_bytes(orjson.dumps({k: v for k, v in document.items() if k != "schema_version"}))
    fresh = SessionManager(tmp_path)
    fresh.save_session("u", history_of(2), {"new": 1})
    reloaded = SessionManager(tmp_path).load_session("u")
    assert reloaded is not None and reloaded["added_by_someone"] == {"keep": True}


def test_failed_save_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(1), {"gen": 1})
    before = (tmp_path / "s.json").read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageError):
        mgr.save_session("s", history_of(5), {"gen": 2})
    monkeypatch.undo()
    assert (tmp_path / "s.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_is_a_storage_error(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(1), {})
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageError):
            SessionManager(tmp_path).save_session("s", history_of(2), {})
    finally:
        tmp_path.chmod(0o700)


def test_unserialisable_content_is_a_storage_error(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    with pytest.raises(StorageError):
        mgr.save_session("s", [{"role": "user", "content": "x", "meta": {"bad": object()}}], {})
    assert mgr.load_session("s") is None


def test_backups_keep_the_last_n_generations(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path, backups=3)
    for generation in range(6):
        mgr.save_session("s", history_of(1), {"gen": generation})
    backups = sorted((tmp_path / "backups").iterdir())
    assert len(backups) == 3
    assert [orjson.loads(p.read_bytes())["metadata"]["gen"] for p in backups] == [3, 4, 5]


def test_token_calibration_is_persisted_and_restored(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    history = history_of(10, text="t" * 400)
    estimate = mgr.count_tokens(history)
    mgr.calibrate(history, estimate * 2)
    mgr.save_session("s", history, {}, state={"usage": 1})
    fresh = SessionManager(tmp_path)
    loaded = fresh.load_session("s")
    assert loaded is not None and loaded["state"]["usage"] == 1
    assert loaded["state"]["token_calibration"]["samples"] == 1
    assert fresh.count_tokens(history) == pytest.approx(estimate * 2, rel=0.05)


def test_token_counter_uses_count_fn_for_exact_counts() -> None:
    seen: list[tuple[str | None, list[dict]]] = []

    def count_fn(system: str | None, messages: list[dict]) -> int:
        seen.append((system, messages))
        return 42

    counter = TokenCounter(count_fn=count_fn)
    history = history_of(1)
    assert counter.count_exact(history) == 42
    system, messages = seen[0]
    assert system == "be brief"
    assert all(set(m) == {"role", "content"} for m in messages)  # meta stripped


def test_events_are_reported_to_the_hook(tmp_path: Path) -> None:
    names: list[str] = []
    mgr = SessionManager(tmp_path, on_event=names.append)
    mgr.save_session("s", history_of(1), {})
    (tmp_path / "s.json").write_bytes(b"{broken")
    assert mgr.load_session("s") is not None
    assert names == ["session_quarantined", "session_recovered"]
    assert mgr.events["session_recovered"] == 1


@pytest.mark.parametrize(
    ("history", "metadata"),
    [
        ([{"role": "robot", "content": "x"}], {}),
        ([{"role": "user"}], {}),
        ([{"role": "user", "content": [{"no": "type"}]}], {}),
        ([], []),
    ],
)
def test_what_would_not_load_is_never_written(tmp_path: Path, history: list, metadata) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(1), {"gen": 1})
    with pytest.raises(StorageError, match="cannot be saved"):
        mgr.save_session("s", history, metadata)
    loaded = SessionManager(tmp_path).load_session("s")
    assert loaded is not None and loaded["metadata"] == {"gen": 1}


def test_listing_skips_files_that_are_not_sessions(tmp_path: Path) -> None:
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(1), {})
    (tmp_path / "s.ledger.json").write_text("{}")
    (tmp_path / "s.json.corrupt-20260101T000000000000Z").write_text("{")
    assert mgr.list_sessions() == ["s"]


def test_persistent_cycles_across_restarts_stay_in_budget_and_prune_rarely(
    tmp_path: Path,
) -> None:
    """The seed's integration scenario: many cycles, restarts, pruning near the limit."""
    mgr = SessionManager(tmp_path, 3_000)
    prunes = 0
    history: list[dict] = [{"role": "system", "content": "s"}]
    for cycle in range(150):
        if cycle % 50 == 0:
            mgr = SessionManager(tmp_path, 3_000)  # a pod restart: memory comes from disk
            loaded = mgr.load_session("daemon")
            history = loaded["conversation_history"] if loaded else history
        history = [
            *history,
            {
                "role": "user",
                "content": f"cycle {cycle}: " + ("node down " if cycle == 3 else "quiet ") * 20,
                "meta": {"cycle": cycle, "fingerprints": ["fp-node"] if cycle == 3 else []},
            },
            {"role": "assistant", "content": f"cycle {cycle} analysed"},
        ]
        if mgr.should_prune(history):
            history = mgr.prune_to_budget(history).history
            prunes += 1
        mgr.save_session("daemon", history, {"cycle_count": cycle + 1})
        assert mgr.count_tokens(history) <= 3_000
    final = SessionManager(tmp_path, 3_000).load_session("daemon")
    assert final is not None
    texts = " ".join(str(m["content"]) for m in final["conversation_history"])
    assert "fp-node" in texts or "cycle 3: node down" in texts  # the old incident is remembered
    assert final["conversation_history"] == history
    assert final["conversation_history"][-2]["meta"]["cycle"] == 149
    assert 1 <= prunes <= 12  # hysteresis: rare, large prunes
