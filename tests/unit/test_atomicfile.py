"""Atomic replacement: old or new, never half; stale temps cleared only where asked."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from k8s_monitor.atomicfile import remove_stale_temps, write_atomic
from k8s_monitor.errors import StorageError


def test_replaces_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"old")

    def broken(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", broken)
    else:
        monkeypatch.setattr(Path, "replace", broken)
    with pytest.raises(StorageError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_stale_temps_are_removed_only_for_the_named_file(tmp_path: Path) -> None:
    (tmp_path / ".mine.json.abc123.tmp").write_text("half")
    (tmp_path / ".other.json.def456.tmp").write_text("someone else's, in flight")
    (tmp_path / "mine.json").write_text("{}")
    assert remove_stale_temps(tmp_path, "mine.json") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.def456.tmp", "mine.json"]
    assert remove_stale_temps(tmp_path) == 1
    assert remove_stale_temps(tmp_path / "absent") == 0
