"""Every benchmark's fast form, inside `make test`: a missed target fails the suite.

The targets are ratios measured side by side in one run (ours against a baseline or the floor,
same inputs), never absolute times. The full forms stay behind `make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def _run_module(module: str, *args: str, timeout: float = 240) -> tuple[int, dict]:
    """A bench as `make bench` runs it: its own process (its RSS, not pytest's, is measured)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


@pytest.mark.xdist_group("bench-tokens")
def test_tokens_fast_form_meets_its_targets() -> None:
    from tests.bench import tokens

    tokens._quiet()
    result = tokens.run_form(fast=True)
    assert result["cycles"] == tokens.FAST_CYCLES
    failed = [name for name, met in result["targets"].items() if not met]
    assert not failed, json.dumps({"failed": failed, "ratios": result["ratios"]}, indent=1)
    modes = result["modes"]
    # Same snapshots for every mode: the every-cycle modes asked every cycle.
    assert modes["persistent_every_cycle"]["requests"] == tokens.FAST_CYCLES
    assert modes["naive_persistent"]["cache_read_tokens"] == 0
    assert 0 < modes["persistent_on_change"]["model_calls"] < tokens.FAST_CYCLES


@pytest.mark.xdist_group("bench-collect")
def test_collect_fast_form_is_within_1_5x_of_the_floor() -> None:
    code, result = _run_module("tests.bench.collect", "--fast")
    assert result["pods"] == 2_000
    assert result["targets"]["all_met"], result
    assert code == 0


@pytest.mark.xdist_group("bench-sessions")
def test_sessions_fast_form_meets_its_ratios() -> None:
    # Its own process: pytest's heap would tax every allocation-heavy load with GC scans.
    code, result = _run_module("tests.bench.sessions", "--fast", "--repeat", "7")
    assert set(result["results"]) == {"200k"}
    assert result["all_met"], result["results"]["200k"]["ratio_ours_over_seed"]
    assert code == 0


@pytest.mark.xdist_group("bench-soak")
def test_soak_fast_form_stays_flat() -> None:
    code, result = _run_module("tests.bench.soak", "--fast")
    assert result["cycles"] == 100 and result["failed_cycles"] == 0
    assert all(result["targets_met"].values()), result
    assert code == 0
