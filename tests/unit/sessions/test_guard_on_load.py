"""A session read back with the guard's own fingerprint is not checked again on its next save;
one written with other patterns (or by an older version) is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from k8s_monitor.redaction import GUARD, Redactor
from k8s_monitor.sessions import SessionManager, schema
from k8s_monitor.sessions.codec import GUARDED_WITH

SECRET = "hunter2-Planted-77aa"


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A fresh process's guard, recording every text it runs its patterns on."""
    GUARD.use(Redactor())
    seen: list[str] = []
    original = Redactor.redact

    def redact(self: Redactor, text: str) -> str:
        seen.append(text)
        return original(self, text)

    monkeypatch.setattr(Redactor, "redact", redact)
    yield seen
    GUARD.use(Redactor())


def _history(turns: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"<cycle {n}> pods: api-{n} Running"} for n in range(turns)]


def _restart() -> None:
    GUARD.use(Redactor())  # a new process: nothing remembered


def test_a_history_read_back_is_not_checked_again(tmp_path: Path, checked: list[str]) -> None:
    SessionManager(tmp_path).save_session("s", _history(20), {"cycles": 20})
    _restart()
    checked.clear()
    manager = SessionManager(tmp_path)
    loaded = manager.load_session("s")
    assert loaded is not None and GUARDED_WITH not in loaded["state"]

    history = [*loaded["conversation_history"], {"role": "user", "content": "<cycle 20> new"}]
    manager.save_session("s", history, {"cycles": 21})

    assert "<cycle 20> new" in checked
    assert not any(text.startswith("<cycle 1>") for text in checked)


def test_a_file_from_other_patterns_is_checked_whole(tmp_path: Path, checked: list[str]) -> None:
    SessionManager(tmp_path).save_session("s", _history(3), {})
    path = tmp_path / "s.json"
    document = orjson.loads(path.read_bytes())
    document["conversation_history"][1]["content"] = f"db password={SECRET}"
    document["state"][GUARDED_WITH] = "patterns-of-an-older-release"
    del document["checksum"]
    path.write_bytes(schema.encode(document))  # a whole file, as that release wrote it
    _restart()
    hits = GUARD.hits().get("session", 0)

    manager = SessionManager(tmp_path)
    loaded = manager.load_session("s")
    assert loaded is not None
    manager.save_session("s", loaded["conversation_history"], {})

    assert SECRET not in path.read_text()
    assert GUARD.hits()["session"] == hits + 1
