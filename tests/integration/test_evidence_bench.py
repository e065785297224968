"""The evidence benchmark's fast form: its targets hold on a 5,000-pod cluster (2 % failing).

It fails when the benchmark misses a target (more than 2 extra requests per investigated
finding, or evidence and causes adding more than 20 % to the cycle), as ``make bench`` does on
the 10,000-pod cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def test_evidence_bench_meets_its_targets() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.evidence", "--pods", "5000", "--failing", "100",
         "--repeat", "7"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    (line,) = done.stdout.strip().splitlines()
    result = json.loads(line)
    assert done.returncode == 0, (result, done.stderr)
    assert result["targets_met"] is True
    assert result["failing_pods"] >= 100 and result["investigated"] >= result["failing_pods"]
    assert result["requests_per_finding"] <= 2.0 and result["overhead_ratio"] <= 0.20
