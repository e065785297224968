"""The daemon: a scheduler that runs one cycle at a time, and a clean way to stop.

SIGTERM (what Kubernetes sends) and SIGINT stop the scheduling at once; a cycle already running
gets ``SHUTDOWN_DEADLINE_SECONDS`` to finish, so its conversation turn is saved. Past the
deadline the cycle is abandoned: every file it writes is replaced atomically, so what is on disk
is the last complete state, never a half-written one.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from k8s_monitor.config import Settings
from k8s_monitor.cycle.runner import CycleRunner
from k8s_monitor.health import HealthServer, HealthState
from k8s_monitor.metrics import Metrics
from k8s_monitor.report import CycleReport, Outcome

log = structlog.get_logger(__name__)

_JOB_ID = "monitoring-cycle"
HUNG_CYCLE_FLOOR_SECONDS = 900.0


@dataclass
class DaemonOptions:
    max_cycles: int | None = None  # stop by itself after this many cycles (demo, tests)
    before_cycle: Callable[[int], None] | None = None  # e.g. the demo advances its simulator
    after_cycle: Callable[[CycleReport], None] | None = None
    install_signal_handlers: bool = True


class Daemon:
    def __init__(
        self,
        settings: Settings,
        runner: CycleRunner,
        metrics: Metrics,
        options: DaemonOptions | None = None,
    ) -> None:
        self._settings = settings
        self._runner = runner
        self._metrics = metrics
        self._options = options or DaemonOptions()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._cycles_run = 0
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=UTC
        )
        self._health = HealthState(
            interval_seconds=settings.interval_seconds,
            startup_grace_seconds=max(60.0, settings.interval_seconds),
            scheduler_alive=lambda: bool(self._scheduler.running) and not self._stop.is_set(),
            # A cycle still running after this long is stuck in a call that will not return;
            # liveness fails and Kubernetes restarts the pod (state on disk is consistent).
            max_cycle_seconds=max(HUNG_CYCLE_FLOOR_SECONDS, 4 * settings.interval_seconds),
        )
        self._server: HealthServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until stopped; returns the process exit code (0 after a clean stop)."""
        if self._options.install_signal_handlers:
            self._install_signal_handlers()
        self._start_health_server()
        self._schedule()
        log.info(
            "daemon_started",
            interval_s=self._settings.interval_seconds,
            mode=self._settings.mode,
            session_id=self._settings.session_id,
            session_dir=str(self._settings.session_dir),
            provider=self._settings.resolved_provider.value,
        )
        self._stop.wait()
        return self._shutdown()

    def stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("daemon_stopping", reason=reason)
        self._stop.set()

    def _schedule(self) -> None:
        trigger = IntervalTrigger(
            seconds=self._settings.interval_seconds,
            jitter=self._settings.scheduler_jitter_seconds or None,
            timezone=UTC,
        )
        self._scheduler.add_job(
            self._tick,
            trigger,
            id=_JOB_ID,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(self._settings.misfire_grace_seconds),
        )
        self._scheduler.start()

    def _shutdown(self) -> int:
        # No new cycles from here on; a running one may still finish.
        self._scheduler.shutdown(wait=False)
        deadline = self._settings.shutdown_deadline_seconds
        finished = self._idle.wait(timeout=deadline)
        if self._server is not None:
            self._server.stop()
        if not finished:
            log.warning("cycle_abandoned", deadline_s=deadline)
            # The worker thread is inside a network call we cannot interrupt; the state on
            # disk is already consistent, so leave without joining it.
            _flush_logs()
            os._exit(0)
        log.info("daemon_stopped", cycles=self._cycles_run)
        return 0

    # --- one tick ----------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._stop.is_set():
            return
        self._idle.clear()
        self._health.cycle_started(at=datetime.now(UTC))
        try:
            self._run_one()
        finally:
            self._idle.set()
        if self._options.max_cycles is not None and self._cycles_run >= self._options.max_cycles:
            self.stop(reason="max_cycles")

    def _run_one(self) -> None:
        if self._options.before_cycle is not None:
            self._options.before_cycle(self._cycles_run + 1)
        try:
            report = self._runner.run()
        except Exception as exc:  # the job boundary: log, count, keep scheduling
            log.exception("cycle_crashed", error_type=type(exc).__name__)
            self._metrics.observe_error("cycle", type(exc).__name__)
            self._health.cycle_finished(success=False, at=datetime.now(UTC))
            self._cycles_run += 1
            return
        self._cycles_run += 1
        self._health.cycle_finished(
            success=report.outcome is not Outcome.FAILED, at=datetime.now(UTC)
        )
        if self._options.after_cycle is not None:
            self._options.after_cycle(report)

    # --- plumbing ----------------------------------------------------------------------------

    def _start_health_server(self) -> None:
        if self._settings.metrics_port == 0:
            return
        self._server = HealthServer(
            self._settings.metrics_host,
            self._settings.metrics_port,
            self._health,
            self._metrics.registry,
        )
        self._server.start()

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            self.stop(reason=signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
