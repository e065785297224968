"""Disk faults while the session is saved: ENOSPC, EIO, a read-only filesystem.

The monitor runs in-process against the simulator and the fake model. Faults are injected into
the real atomic writer's ``os``/``tempfile``/``Path.replace``, only while it writes the session
file, so the ledger, reports and spool keep working and the test isolates the session save.
(Tests run as root in CI, where a chmod'ed directory stays writable; the EROFS injection
stands in for a read-only mount.)
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import k8s_monitor.atomicfile as atomicfile
import k8s_monitor.sessions.store as session_store
from k8s_monitor.report import Outcome
from tests.faults.harness import (
    SESSION_ID,
    captured_logs,
    log_events,
    rig,
    run_cycles,
    session_cycles,
    turn_problems,
)


class _FailingFile:
    """A file object whose writes fail the way a full disk does."""

    def __init__(self, handle: Any, error: int) -> None:
        self._handle = handle
        self._error = error

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def write(self, data: bytes) -> int:
        raise OSError(self._error, os.strerror(self._error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class _Os:
    """``os`` as the session store sees it, with one call broken."""

    def __init__(self, **broken: Callable[..., Any]) -> None:
        self._broken = broken

    def __getattr__(self, name: str) -> Any:
        return self._broken.get(name) or getattr(os, name)


def _raise(error: int) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise OSError(error, os.strerror(error))

    return fail


def _enospc_on_write(patch: pytest.MonkeyPatch) -> None:
    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return _FailingFile(os.fdopen(fd, *args, **kwargs), errno.ENOSPC)

    patch.setattr(atomicfile, "os", _Os(fdopen=fdopen))


def _eio_on_fsync(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(atomicfile, "os", _Os(fsync=_raise(errno.EIO)))


def _eio_on_replace(patch: pytest.MonkeyPatch) -> None:
    patch.setattr(Path, "replace", _raise(errno.EIO))


def _read_only(patch: pytest.MonkeyPatch) -> None:
    class _Tempfile:
        mkstemp = staticmethod(_raise(errno.EROFS))

        def __getattr__(self, name: str) -> Any:
            return getattr(tempfile, name)

    patch.setattr(atomicfile, "tempfile", _Tempfile())


def _break_session_saves(
    monkeypatch: pytest.MonkeyPatch,
    session_file: Path,
    inject: Callable[[pytest.MonkeyPatch], None],
) -> None:
    """Run the real atomic writer with ``inject`` applied, for the session file only."""
    real = atomicfile.write_atomic  # what the session store calls

    def write(path: Path, data: bytes, *, durable: bool = True) -> None:
        if path.resolve() != session_file.resolve():
            real(path, data, durable=durable)
            return
        with pytest.MonkeyPatch.context() as patch:
            inject(patch)
            real(path, data, durable=durable)

    monkeypatch.setattr(session_store, "write_atomic", write)


FAULTS = {
    "enospc-write": _enospc_on_write,
    "eio-fsync": _eio_on_fsync,
    "eio-replace": _eio_on_replace,
    "erofs-directory": _read_only,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_failed_save_keeps_previous_session_logs_counts_and_next_cycle_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    with rig(tmp_path) as r:
        settings = r.settings()
        monitor = r.monitor()
        try:
            run_cycles(monitor, 2, r.sim)
            before = r.session_bytes()
            assert before is not None
            with captured_logs(settings) as logs, monkeypatch.context() as patch:
                _break_session_saves(patch, r.session_dir / f"{SESSION_ID}.json", FAULTS[fault])
                failed = monitor.runner.run()
            assert r.session_bytes() == before, "the previous session must stay byte-identical"
            assert failed.outcome is not Outcome.OK
            assert failed.analysis_source == "none"
            errors = [e for e in log_events(logs) if e.get("event") == "converse_failed"]
            assert errors and errors[0]["error_type"] == "StorageError", log_events(logs)
            counted = monitor.metrics.registry.get_sample_value(
                "k8s_monitor_errors_total", {"stage": "converse", "type": "StorageError"}
            )
            assert counted == 1.0

            retried = monitor.runner.run()  # the fault is gone: this cycle saves again
        finally:
            monitor.close()
        assert retried.outcome is Outcome.OK, retried.error
        session = r.load_session()
        assert session is not None
        assert turn_problems(session) == []
        cycles = session_cycles(session)
        assert cycles == [1, 2, 4], "the failed cycle left no turn; the next one saved its own"
        assert not list(r.session_dir.glob(".*.tmp")), "no temp file left behind"


def test_disk_full_for_the_ledger_still_notifies_and_never_reuses_a_cycle_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rig(tmp_path) as r:
        monitor = r.monitor()
        try:
            run_cycles(monitor, 1)
            ledger_before = r.ledger_cycle()
            r.sim.goto(1)  # the crash loop: a new critical incident to page about
            with monkeypatch.context() as patch:
                patch.setattr(os, "fsync", _raise(errno.ENOSPC))
                failed = monitor.runner.run()
            assert failed.outcome is Outcome.DEGRADED
            assert "ledger not saved: StorageError" in (failed.error or "")
            assert r.ledger_cycle() == ledger_before, "the ledger on disk is the previous one"
            again = monitor.runner.run()
        finally:
            monitor.close()
        alerts = [x.body for x in r.receiver.received if x.body.get("kind") == "alert"]
        assert any(a["cycle"] == failed.cycle for a in alerts), "the page went out anyway"
        assert again.outcome is not Outcome.FAILED, again.error
        assert again.cycle == failed.cycle + 1, "a cycle number is never used twice"
        assert r.ledger_cycle() == again.cycle, "the next save catches up"
