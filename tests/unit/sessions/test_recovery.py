"""Integrity, recovery, hostile files and encryption at rest."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8s_monitor.errors import (
    ConfigurationError,
    SessionCorruptError,
    SessionDecryptError,
    StorageError,
)
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sessions.crypto import generate_key
from tests.unit.sessions.helpers import history_of


def saved(tmp_path: Path, generations: int = 2, **kwargs: object) -> SessionManager:
    mgr = SessionManager(tmp_path, **kwargs)  # type: ignore[arg-type]
    for generation in range(generations):
        mgr.save_session("s", history_of(generation + 1), {"gen": generation})
    return mgr


def quarantined(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("s.json.corrupt-*"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # torn write
        lambda raw: b"",
        lambda raw: raw.replace(b"cycle 1", b"cycle 9"),  # bit rot inside the payload
        lambda raw: b"[1, 2, 3]",
        lambda raw: orjson.dumps({"schema_version": 2, "session_id": "s"}),  # no checksum
    ],
)
def test_corruption_is_quarantined_and_the_newest_backup_restored(tmp_path: Path, damage) -> None:
    saved(tmp_path)
    path = tmp_path / "s.json"
    path.write_bytes(damage(path.read_bytes()))
    mgr = SessionManager(tmp_path)
    loaded = mgr.load_session("s")
    assert loaded is not None and loaded["metadata"] == {"gen": 1}
    assert len(quarantined(tmp_path)) == 1
    assert mgr.events["session_quarantined"] == 1 and mgr.events["session_recovered"] == 1
    assert SessionManager(tmp_path).load_session("s") == loaded  # the restored file verifies


def test_schema_violations_are_corruption(tmp_path: Path) -> None:
    saved(tmp_path)
    body = {"session_id": "s", "conversation_history": [{"role": "robot", "content": "x"}]}
    (tmp_path / "s.json").write_bytes(orjson.dumps(body))
    loaded = SessionManager(tmp_path).load_session("s")
    assert loaded is not None and loaded["metadata"] == {"gen": 1}


def test_without_a_valid_backup_the_error_is_explicit(tmp_path: Path) -> None:
    saved(tmp_path, backups=0)
    (tmp_path / "s.json").write_bytes(b"\x00garbage")
    mgr = SessionManager(tmp_path, backups=0)
    with pytest.raises(SessionCorruptError, match="no valid backup"):
        mgr.load_session("s")
    assert len(quarantined(tmp_path)) == 1
    assert mgr.events["session_unrecoverable"] == 1


def test_corrupt_backups_are_skipped(tmp_path: Path) -> None:
    saved(tmp_path, generations=3)
    newest = sorted((tmp_path / "backups").iterdir())[-1]
    newest.write_bytes(b"{")
    (tmp_path / "s.json").write_bytes(b"{")
    loaded = SessionManager(tmp_path).load_session("s")
    assert loaded is not None and loaded["metadata"] == {"gen": 1}


def test_oversized_and_deeply_nested_files_are_rejected(tmp_path: Path) -> None:
    saved(tmp_path)
    (tmp_path / "s.json").write_bytes(b" " * 5000)
    small = SessionManager(tmp_path, max_file_bytes=4096)
    loaded = small.load_session("s")  # the backups are small enough to restore
    assert loaded is not None and small.events["session_quarantined"] == 1
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    body = {"session_id": "s", "conversation_history": [], "metadata": {"d": deep}}
    (tmp_path / "s.json").write_bytes(orjson.dumps(body))
    mgr = SessionManager(tmp_path)
    assert mgr.load_session("s") is not None
    assert mgr.events["session_quarantined"] == 1


def test_saving_over_a_corrupt_file_quarantines_it_first(tmp_path: Path) -> None:
    saved(tmp_path)
    (tmp_path / "s.json").write_bytes(b"not json")
    mgr = SessionManager(tmp_path)
    mgr.save_session("s", history_of(3), {"gen": "new"})
    assert len(quarantined(tmp_path)) == 1
    assert quarantined(tmp_path)[0].read_bytes() == b"not json"


def test_read_only_filesystem_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = saved(tmp_path)
    before = (tmp_path / "s.json").read_bytes()

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(StorageError):
        mgr.save_session("s", history_of(4), {})
    monkeypatch.undo()
    assert (tmp_path / "s.json").read_bytes() == before


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def damaged(draw: st.DrawFn, good: bytes) -> bytes:
    mode = draw(st.sampled_from(["truncate", "flip", "garbage", "splice"]))
    if mode == "truncate":
        return good[: draw(st.integers(0, len(good) - 1))]
    if mode == "flip":
        position = draw(st.integers(0, len(good) - 1))
        value = draw(st.integers(0, 255).filter(lambda b: b != good[position]))
        return good[:position] + bytes([value]) + good[position + 1 :]
    if mode == "garbage":
        return draw(st.binary(max_size=300))
    position = draw(st.integers(0, len(good)))
    return good[:position] + draw(st.binary(min_size=1, max_size=40)) + good[position:]


@FUZZ
@given(data=st.data())
def test_fuzz_damaged_files_always_recover(tmp_path: Path, data: st.DataObject) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    saved(root)
    path = root / "s.json"
    good = path.read_bytes()
    bad = data.draw(damaged(good))
    path.write_bytes(bad)
    mgr = SessionManager(root)
    loaded = mgr.load_session("s")  # must never raise: a valid backup exists
    # Either the damage was harmless (whitespace, say) or the newest backup came back.
    assert loaded is not None and loaded["metadata"] == {"gen": 1}
    if mgr.events["session_quarantined"]:
        assert mgr.events["session_recovered"] == 1
        assert len(list(root.glob("s.json.corrupt-*"))) == 1


# --- encryption --------------------------------------------------------------------------------


def test_encrypted_sessions_round_trip_and_hide_content(tmp_path: Path) -> None:
    key = generate_key()
    mgr = SessionManager(tmp_path, encryption_keys=[key])
    mgr.save_session("s", history_of(2, text="secret-ish text"), {"m": 1})
    raw = (tmp_path / "s.json").read_bytes()
    assert b"secret-ish" not in raw and b'"encryption":"fernet"' in raw
    loaded = SessionManager(tmp_path, encryption_keys=[key]).load_session("s")
    assert loaded is not None and loaded["metadata"] == {"m": 1}
    assert all(b"secret-ish" not in p.read_bytes() for p in (tmp_path / "backups").iterdir())


def test_plaintext_is_encrypted_on_next_save(tmp_path: Path) -> None:
    saved(tmp_path)
    mgr = SessionManager(tmp_path, encryption_keys=[generate_key()])
    loaded = mgr.load_session("s")
    assert loaded is not None
    assert mgr.get_session_stats("s")["encrypted"] is False  # type: ignore[index]
    mgr.save_session("s", loaded["conversation_history"], loaded["metadata"])
    assert b"cycle 1" not in (tmp_path / "s.json").read_bytes()
    assert mgr.get_session_stats("s")["encrypted"] is True  # type: ignore[index]


def test_key_rotation_decrypts_with_any_key_and_encrypts_with_the_first(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    SessionManager(tmp_path, encryption_keys=[old]).save_session("s", history_of(1), {})
    rotated = SessionManager(tmp_path, encryption_keys=[new, old])
    loaded = rotated.load_session("s")
    assert loaded is not None and loaded["conversation_history"] == history_of(1)
    rotated.save_session("s", loaded["conversation_history"], {})
    reread = SessionManager(tmp_path, encryption_keys=[new]).load_session("s")
    assert reread is not None and reread["conversation_history"] == history_of(1)


def test_wrong_key_is_a_clear_error_and_leaves_the_file(tmp_path: Path) -> None:
    SessionManager(tmp_path, encryption_keys=[generate_key()]).save_session("s", history_of(1), {})
    before = (tmp_path / "s.json").read_bytes()
    wrong = SessionManager(tmp_path, encryption_keys=[generate_key()])
    with pytest.raises(SessionDecryptError):
        wrong.load_session("s")
    with pytest.raises(SessionDecryptError):
        wrong.save_session("s", history_of(2), {})
    with pytest.raises(SessionDecryptError):
        SessionManager(tmp_path).load_session("s")  # no key at all
    assert (tmp_path / "s.json").read_bytes() == before
    assert not quarantined(tmp_path)


def test_tampered_ciphertext_is_corruption_not_a_key_problem(tmp_path: Path) -> None:
    key = generate_key()
    saved(tmp_path, encryption_keys=[key])
    path = tmp_path / "s.json"
    path.write_bytes(path.read_bytes().replace(b'"ciphertext":"gAAAAA', b'"ciphertext":"gAAAAB'))
    mgr = SessionManager(tmp_path, encryption_keys=[key])
    loaded = mgr.load_session("s")
    assert loaded is not None and mgr.events["session_recovered"] == 1


def test_invalid_keys_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SessionManager(tmp_path, encryption_keys=["not-a-key"])
    assert "not-a-key" not in str(caught.value)


def test_from_settings_reads_keys_from_a_file(tmp_path: Path) -> None:
    from k8s_monitor.config import Settings

    key_file = tmp_path / "keys"
    first, second = generate_key(), generate_key()
    key_file.write_text(f"# rotation\n{first}\n{second}\n")
    settings_ = Settings(session_dir=tmp_path / "s", session_encryption_key_file=key_file)
    mgr = SessionManager.from_settings(settings_)
    assert mgr.encrypts
    mgr.save_session("x", history_of(1), {})
    assert SessionManager(tmp_path / "s", encryption_keys=[first]).load_session("x") is not None


@FUZZ
@given(data=st.data())
def test_fuzz_without_backups_only_documented_errors(tmp_path: Path, data: st.DataObject) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    saved(root, backups=0)
    path = root / "s.json"
    good = path.read_bytes()
    path.write_bytes(data.draw(damaged(good)))
    mgr = SessionManager(root, backups=0)
    try:
        loaded = mgr.load_session("s")
    except SessionCorruptError:
        assert not path.exists() and len(list(root.glob("s.json.corrupt-*"))) == 1
    else:
        assert loaded is not None and loaded["metadata"] == {"gen": 1}
