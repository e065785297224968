"""The Alertmanager benchmark's fast form: its targets hold, or ``make test`` fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.alertmanager import ALERTMANAGER_BINARIES, ALERTMANAGER_PACKAGE, require_tool

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.xdist_group("alertmanager"), pytest.mark.bench]


def test_fast_form_meets_the_targets() -> None:
    require_tool(ALERTMANAGER_BINARIES, ALERTMANAGER_PACKAGE)
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.alertmanager", "--fast"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    (line,) = done.stdout.strip().splitlines()
    result = json.loads(line)
    assert done.returncode == 0, line
    assert result["targets_met"], line
    assert result["post_s"] <= 2.0 and result["incidents"] == 500
    assert result["overhead"] <= 0.05 and result["open_incidents"] >= 100
    assert result["lost"] == 0 and result["restart_resolved"] > 0
