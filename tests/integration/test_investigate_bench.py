"""The investigation benchmark's fast form: it fails when a target fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def test_fast_investigation_bench_meets_its_targets() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.investigate", "--cycles", "16",
         "--max-context-tokens", "16000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(result["targets"], indent=2)
    targets = result["targets"]
    assert targets["all_met"] and targets["pruned_and_restarted"]
    day = result["investigate"]
    assert day["rejected_requests"] == 0 and day["tool_calls"] > 0
    assert day["tool_calls_per_incident"]["max"] <= 8
