"""The operator CLI: ``k8s-monitor sessions ...`` against a temporary session directory."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from k8s_monitor.cli import sessions as sessions_cli
from k8s_monitor.sessions import SessionManager
from tests.unit.sessions.helpers import history_of


@pytest.fixture
def session_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    directory = tmp_path / "sessions"
    monkeypatch.setenv("SESSION_DIR", str(directory))
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    return directory


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sessions_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sessions", *argv])
    return int(args.handler(args))


def test_list_show_stats(session_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SessionManager(session_dir).save_session("one", history_of(3), {})
    (session_dir / "two.json").write_bytes(b"{")
    assert run("list", "--json") == 0
    rows = {row["session_id"]: row for row in orjson.loads(capsys.readouterr().out)}
    assert rows["one"]["status"] == "ok" and rows["one"]["messages"] == 7
    assert rows["two"]["status"] == "corrupt"
    assert (session_dir / "two.json").read_bytes() == b"{"  # listing never repairs

    assert run("show", "one", "--last", "2") == 0
    out = capsys.readouterr().out
    assert "cycle 2: all quiet" in out and "cycle 0" not in out

    assert run("stats", "one", "--json") == 0
    assert orjson.loads(capsys.readouterr().out)["message_count"] == 7
    assert run("stats", "missing") == 1


def test_prune_delete(session_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SessionManager(session_dir).save_session("s", history_of(80), {"m": 1})
    assert run("prune", "s", "--smart", "--json") == 0
    outcome = orjson.loads(capsys.readouterr().out)
    assert outcome["messages_after"] < outcome["messages_before"]
    loaded = SessionManager(session_dir).load_session("s")
    assert loaded is not None and loaded["metadata"] == {"m": 1}
    assert len(loaded["conversation_history"]) == outcome["messages_after"]
    assert run("delete", "s") == 0
    assert run("delete", "s") == 1


def test_prune_is_refused_while_a_daemon_holds_the_lock(session_dir: Path) -> None:
    daemon = SessionManager(session_dir)
    daemon.save_session("s", history_of(80), {})
    with daemon.lock("s"):
        assert run("prune", "s") == 1
    assert run("prune", "s") == 0


def test_export_import_round_trip(session_dir: Path, tmp_path: Path) -> None:
    SessionManager(session_dir).save_session("s", history_of(2), {"k": 1}, state={"u": 2})
    exported = tmp_path / "export.json"
    assert run("export", "s", "--output", str(exported)) == 0
    assert run("import", str(exported)) == 1  # exists already
    assert run("import", str(exported), "--id", "copy") == 0
    copy = SessionManager(session_dir).load_session("copy")
    assert copy is not None
    assert copy["conversation_history"] == history_of(2) and copy["state"] == {"u": 2}
    bad = tmp_path / "bad.json"
    bad.write_text('{"session_id": "x", "conversation_history": "nope"}')
    assert run("import", str(bad)) == 1


def test_verify_and_repair(session_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manager = SessionManager(session_dir)
    manager.save_session("s", history_of(2), {})
    assert run("verify") == 0
    capsys.readouterr()
    (session_dir / "s.json").write_bytes(b"garbage")
    assert run("verify", "--json") == 1
    assert orjson.loads(capsys.readouterr().out)[0]["status"] == "corrupt"
    assert run("verify", "--repair") == 0
    assert run("verify") == 0
