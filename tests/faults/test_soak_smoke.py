"""The soak benchmark, short: it runs, measures, and the monitor keeps no file descriptors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.soak import soak

KEYS = {
    "cycles",
    "rss_start_mb",
    "rss_end_mb",
    "rss_max_mb",
    "fds_start",
    "fds_end",
    "prunes",
    "session_bytes_max",
    "failed_cycles",
}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_runs_and_stays_flat(tmp_path: Path) -> None:
    result = soak(60, tmp_path)
    assert set(result) >= KEYS
    assert result["cycles"] == 60
    assert result["failed_cycles"] == 0
    assert result["prunes"] >= 1
    assert result["fds_end"] <= result["fds_start"]
    assert result["rss_drift_mb"] <= 10.0
