"""Cycle reports: atomic files, chronological names, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from k8s_monitor.report import CycleReport, ModelUsage, latest_reports, read_report, write_report
from tests.builders import T0


def _report(cycle: int, minutes: int) -> CycleReport:
    return CycleReport(
        cycle=cycle,
        cluster="c",
        mode="stateless",
        session_id="s",
        started_at=T0 + timedelta(minutes=minutes),
    )


def test_round_trip_and_path_recorded(tmp_path: Path) -> None:
    report = _report(1, 0)
    report.usage = ModelUsage(requests=1, input_tokens=10, cost_usd=0.5)
    path = write_report(report, tmp_path, retention=5)
    assert report.report_path == str(path)
    loaded = read_report(path)
    assert loaded.usage.input_tokens == 10 and loaded.cycle == 1
    assert not list(tmp_path.glob(".*.tmp")), "no temp file left behind"


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    for minute in range(6):
        write_report(_report(minute + 1, minute), tmp_path, retention=3)
    kept = [read_report(p).cycle for p in latest_reports(tmp_path, 10)]
    assert kept == [6, 5, 4]


def test_a_new_session_restarting_at_cycle_1_is_still_the_latest(tmp_path: Path) -> None:
    write_report(_report(40, 0), tmp_path, retention=10)
    write_report(_report(1, 5), tmp_path, retention=10)
    assert read_report(latest_reports(tmp_path)[0]).cycle == 1


def test_usage_adds_up() -> None:
    total = ModelUsage(requests=1, input_tokens=5, cost_usd=0.25) + ModelUsage(
        requests=2, output_tokens=3, cost_usd=0.5
    )
    assert (total.requests, total.input_tokens, total.output_tokens) == (3, 5, 3)
    assert total.cost_usd == 0.75
