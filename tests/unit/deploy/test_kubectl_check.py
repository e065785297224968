"""Which kubectl renders deploy/: too old fails naming the minimum, missing fails under CI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.unit.deploy.rendering import KUBECTL_PACKAGE, MIN_KUBECTL, check_kubectl

# What Debian bookworm's kubectl (kubernetes-client 1.20.5+really1.20.2) prints for
# `kubectl version --client -o json`, trimmed to the fields that matter.
BOOKWORM = {"clientVersion": {"major": "1", "minor": "20", "gitVersion": "v1.20.2"}}
RECENT = {"clientVersion": {"major": "1", "minor": "37", "gitVersion": "v1.37.1"}}


def _fake_kubectl(directory: Path, name: str, output: dict[str, object]) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\ncat <<'JSON'\n{json.dumps(output)}\nJSON\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_bookworm_kubectl_fails_naming_the_minimum_version(tmp_path: Path) -> None:
    old = _fake_kubectl(tmp_path, "kubectl", BOOKWORM)
    for ci in (False, True):
        check = check_kubectl([old], ci=ci)
        assert check.path is None and check.fatal
        assert check.problem is not None
        assert f">= {MIN_KUBECTL[0]}.{MIN_KUBECTL[1]}" in check.problem
        assert "is 1.20" in check.problem and KUBECTL_PACKAGE in check.problem


def test_a_recent_kubectl_wins_over_an_old_one_later_on_the_list(tmp_path: Path) -> None:
    recent = _fake_kubectl(tmp_path, "new", RECENT)
    old = _fake_kubectl(tmp_path, "old", BOOKWORM)
    assert check_kubectl([recent, old], ci=True).path == recent
    assert check_kubectl([old, recent], ci=True).path == recent


def test_missing_kubectl_fails_under_ci_and_skips_elsewhere() -> None:
    in_ci = check_kubectl([], ci=True)
    assert in_ci.fatal and in_ci.problem is not None and KUBECTL_PACKAGE in in_ci.problem
    local = check_kubectl([], ci=False)
    assert not local.fatal and local.problem is not None


def test_a_kubectl_that_does_not_run_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "kubectl"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    check = check_kubectl([str(broken)], ci=False)
    assert check.fatal and check.problem is not None and "does not run" in check.problem
