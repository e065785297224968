"""What a cycle counts: failures (in the report, the log and the metrics), notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from k8s_monitor.metrics import NOTIFICATION_SINK
from k8s_monitor.notify import DispatchResult
from k8s_monitor.report import CycleReport, Outcome

if TYPE_CHECKING:
    from k8s_monitor.metrics import Metrics

log = structlog.get_logger(__name__)


def fail(report: CycleReport, exc: BaseException, *, stage: str, metrics: Metrics | None) -> None:
    """The cycle failed at ``stage``: the report, the log and the metrics say so."""
    report.outcome = Outcome.FAILED
    report.error = f"{type(exc).__name__}: {exc}"
    log.error("cycle_failed", stage=stage, error_type=type(exc).__name__, error=str(exc))
    count_error(metrics, stage, exc)


def count_error(metrics: Metrics | None, stage: str, exc: BaseException) -> None:
    if metrics is not None:
        metrics.observe_error(stage, type(exc).__name__)


def count_notifications(metrics: Metrics | None, result: DispatchResult) -> None:
    # The notifier counts by outcome across its sinks ("sent", "spooled", "lost"...).
    if metrics is None:
        return
    for outcome, count in result.counts.items():
        if outcome != "pending":  # a level, not an event: it is in the cycle report
            metrics.observe_notification(NOTIFICATION_SINK, str(outcome), int(count))


def count_model_disabled(metrics: Metrics | None) -> None:
    if metrics is not None:
        metrics.observe_llm_disabled()


def count_cycle(metrics: Metrics | None, report: CycleReport) -> None:
    if metrics is not None:
        metrics.observe_cycle(report)
