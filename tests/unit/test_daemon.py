"""The scheduler loop in-process: a cycle that raises is counted and the daemon goes on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from k8s_monitor.config import load_settings
from k8s_monitor.daemon import Daemon, DaemonOptions
from k8s_monitor.metrics import Metrics
from k8s_monitor.report import CycleReport


class FlakyRunner:
    """Raises on the first cycle, succeeds afterwards; records overlap if any."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = threading.Lock()
        self.overlapped = False

    def run(self) -> CycleReport:
        if not self.running.acquire(blocking=False):
            self.overlapped = True
            raise AssertionError("cycles overlapped")
        try:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("boom")
            return CycleReport(
                cycle=self.calls,
                cluster="c",
                mode="stateless",
                session_id="s",
                started_at=datetime.now(UTC),
            )
        finally:
            self.running.release()


def test_a_crashing_cycle_is_counted_and_the_next_one_runs() -> None:
    settings = load_settings(monitoring_interval_minutes=0.001, metrics_port=0)
    runner = FlakyRunner()
    metrics = Metrics()
    finished: list[int] = []
    daemon = Daemon(
        settings,
        runner,  # type: ignore[arg-type]
        metrics,
        DaemonOptions(
            max_cycles=3,
            install_signal_handlers=False,
            after_cycle=lambda report: finished.append(report.cycle),
        ),
    )
    assert daemon.run() == 0
    assert runner.calls == 3 and finished == [2, 3]
    assert not runner.overlapped
    rendered = metrics.render().decode()
    assert 'stage="cycle"' in rendered and 'type="RuntimeError"' in rendered
