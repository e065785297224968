"""kubectl against the simulator, through an ordinary kubeconfig (plain HTTP and TLS).

Skipped, with the reason, when kubectl is not installed or cannot run on this machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k8s_monitor.sim import SimServer, load_scenario

KUBECTL = shutil.which("kubectl")


def _kubectl_runs() -> str | None:
    if KUBECTL is None:
        return "kubectl is not on PATH"
    try:
        subprocess.run(
            [KUBECTL, "version", "--client"], capture_output=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"kubectl cannot run here: {exc}"
    return None


_SKIP = _kubectl_runs()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with SimServer(load_scenario("incident-day", start=start), tls=True, token="kubectl") as server:
        server.goto(1)
        yield server


def kubectl(server: SimServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token="kubectl")
    assert KUBECTL is not None
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [KUBECTL, "--cache-dir", str(tmp_path / "cache"), "--request-timeout", "20s", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_get_pods_all_namespaces(sim: SimServer, tmp_path: Path) -> None:
    result = kubectl(sim, tmp_path, "get", "pods", "-A")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    crashing = [line for line in lines if "CrashLoopBackOff" in line]
    assert len(crashing) == 3 and all(line.startswith("shop ") for line in crashing)
    assert len(lines) - 1 >= 40


def test_get_nodes_and_deployments(sim: SimServer, tmp_path: Path) -> None:
    nodes = kubectl(sim, tmp_path, "get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    assert nodes.stdout.split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes.stdout.count(" Ready ") == 5
    deployments = kubectl(sim, tmp_path, "get", "deploy", "-n", "shop", "checkout")
    assert deployments.returncode == 0, deployments.stderr
    assert "0/3" in deployments.stdout


def test_logs_previous_and_tail(sim: SimServer, tmp_path: Path) -> None:
    pods = kubectl(sim, tmp_path, "get", "pods", "-n", "shop", "-l", "app=checkout", "-o", "name")
    assert pods.returncode == 0, pods.stderr
    pod = pods.stdout.split()[0].removeprefix("pod/")
    logs = kubectl(sim, tmp_path, "logs", "-n", "shop", pod, "--previous", "--tail=3")
    assert logs.returncode == 0, logs.stderr
    assert len(logs.stdout.splitlines()) == 3 and "exiting with status 1" in logs.stdout
    refused = kubectl(sim, tmp_path, "logs", "-n", "shop", pod, "-c", "sidecar")
    assert refused.returncode != 0 and "is not valid for pod" in refused.stderr


def test_json_output_and_rbac_fault(sim: SimServer, tmp_path: Path) -> None:
    dump = kubectl(sim, tmp_path, "get", "pods", "-n", "payments", "-o", "json")
    assert dump.returncode == 0, dump.stderr
    assert '"kind": "List"' in dump.stdout or '"kind": "PodList"' in dump.stdout
    sim.faults.set(resource="nodes", status=403)
    denied = kubectl(sim, tmp_path, "get", "nodes")
    assert denied.returncode != 0
    assert 'cannot list resource "nodes"' in denied.stderr


def test_simulate_command_serves_until_terminated(tmp_path: Path) -> None:
    """The CLI subcommand, as a real process: prints its URL, writes a kubeconfig, ends on TERM."""
    kubeconfig = tmp_path / "kc"
    runner = (
        "import argparse, sys\n"
        "from k8s_monitor.cli import simulate\n"
        "parser = argparse.ArgumentParser()\n"
        "simulate.register(parser.add_subparsers())\n"
        "args = parser.parse_args(sys.argv[1:])\n"
        "sys.exit(args.handler(args))\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            runner,
            "simulate",
            "--scenario",
            "incident-day",
            "--write-kubeconfig",
            str(kubeconfig),
            "--step-seconds",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        output = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "step 3/5" in line:
                break
        assert any("serving at http://127.0.0.1:" in line for line in output), output
        assert kubeconfig.is_file()
        result = kubectl_with(kubeconfig, tmp_path, "get", "nodes")
        assert result.returncode == 0, result.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def kubectl_with(kubeconfig: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
