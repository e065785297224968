"""``k8s-monitor ask`` and ``k8s-monitor mcp``: read-only, redacted, tested with real clients."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from k8s_monitor.analysis.findings import Severity
from k8s_monitor.analysis.incidents import Incident, Ledger, RootCause
from k8s_monitor.analysis.ledger import LedgerStore
from k8s_monitor.cli import main
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.lookup import ClusterLookup
from k8s_monitor.config import Settings
from k8s_monitor.investigate.tools import Toolbox
from k8s_monitor.redaction import Redactor
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sim import SimServer
from k8s_monitor.wiring import ledger_path
from tests import builders
from tests.fakes.anthropic_server import FakeAnthropic, ToolScript
from tests.unit.cluster.lookup_world import lookup_world, worker_pod

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    with SimServer(lookup_world(tmp_path)) as server:  # type: ignore[arg-type]
        server.goto(1)
        yield server


def _incident(pod: str) -> Incident:
    evidence = {"exit_code": 1, "last_log": "FATAL exiting"}
    found = builders.finding(
        pod, Severity.CRITICAL, kind="Pod", message=f"{pod} restarts", evidence=evidence
    )
    return builders.incident(
        found,
        at=NOW,
        last_cycle=3,
        root_cause=RootCause(
            summary="the worker cannot log in to its database",
            evidence=("ERROR connecting with password=[REDACTED:password] failed",),
            next_steps=("kubectl -n shop logs deploy/worker --previous",),
            cycle=2,
        ),
    )


@pytest.fixture
def monitor_env(tmp_path: Path, sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A monitor's files on disk (ledger, persistent session) and the env pointing at them."""
    env = {
        "KUBECONFIG": str(sim.write_kubeconfig(tmp_path / "kubeconfig")),
        "SESSION_DIR": str(tmp_path / "sessions"),
        "REPORT_DIR": str(tmp_path / "reports"),
        "ENABLE_LONG_CONTEXT": "true",
        "LLM_PROVIDER": "offline",
        "LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    incident = _incident(worker_pod(sim))
    LedgerStore(ledger_path(settings)).save(
        Ledger(cycle=3, incidents={incident.fingerprint: incident})
    )
    manager = SessionManager.from_settings(settings)
    history = [
        {"role": "user", "content": "<cycle 3> worker crash-loops", "meta": {"cycle": 3}},
        {"role": "assistant", "content": '{"summary": "worker is down"}'},
    ]
    manager.save_session(settings.session_id, history, {"cycles": 3})
    return {"env": env, "settings": settings, "incident": incident}


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_ask_without_a_model_prints_evidence_cause_and_root_cause(
    monitor_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    session_dir = Path(monitor_env["env"]["SESSION_DIR"])
    before = _digest(session_dir)
    assert main(["ask", "why is the worker restarting?"]) == 0
    out = capsys.readouterr().out
    assert "CrashLoopBackOff" in out and "FATAL exiting" in out
    assert "cannot log in to its database" in out
    assert "kubectl -n shop logs deploy/worker --previous" in out
    assert _digest(session_dir) == before  # nothing written, no lock file left behind


def test_ask_with_a_model_uses_the_tools_and_changes_nothing(
    monitor_env: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pod = monitor_env["incident"].finding.subject.name
    with FakeAnthropic() as fake:
        fake.tool_script = ToolScript()
        monkeypatch.setenv("LLM_PROVIDER", "anthropic")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        session_dir = Path(monitor_env["env"]["SESSION_DIR"])
        before = _digest(session_dir)
        assert main(["ask", f"why is {pod} restarting?"]) == 0
        out = capsys.readouterr().out
        assert fake.stats.rejected == 0
        names = [call["name"] for call in fake.tool_script.calls]
        assert "get_logs" in names and "finding_evidence" in names
        assert "tool call(s), 0 failed" in out
        sent = str(fake.bodies())
        assert "sw0rdfish" not in sent and "hunter2-plain-value" not in sent
        assert _digest(session_dir) == before


# --- MCP ------------------------------------------------------------------------------------------


@pytest.fixture
def toolbox(monitor_env: dict[str, Any]) -> Iterator[Toolbox]:
    settings: Settings = monitor_env["settings"]
    lookup = ClusterLookup(load_api_client(settings), Redactor(), timeout_seconds=2.0)
    yield Toolbox(lookup, Redactor().redact)
    lookup.close()


def _text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def test_mcp_server_in_process_with_the_sdk_client(
    monitor_env: dict[str, Any], toolbox: Toolbox
) -> None:
    from mcp import Client

    from k8s_monitor.cli.mcp import build_server

    server = build_server(monitor_env["settings"], toolbox)
    pod = monitor_env["incident"].finding.subject.name
    fingerprint = monitor_env["incident"].fingerprint

    async def session() -> None:
        async with Client(server) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {"get_object", "get_logs", "finding_evidence", "open_incidents"} <= tools
            secret = await client.call_tool(
                "get_object", {"kind": "Secret", "namespace": "shop", "name": "db"}
            )
            assert secret.is_error and "never read" in _text(secret)
            logs = await client.call_tool(
                "get_logs", {"namespace": "shop", "pod": pod, "previous": True}
            )
            assert not logs.is_error and "FATAL exiting" in _text(logs)
            assert "sw0rdfish" not in _text(logs)
            evidence = await client.call_tool("finding_evidence", {"fingerprint": fingerprint})
            assert "cannot log in" in _text(evidence)
            incidents = await client.call_tool("open_incidents", {})
            assert fingerprint in _text(incidents)
            stats = await client.read_resource("k8s-monitor://session/stats")
            assert '"message_count": 2' in stats.contents[0].text

    anyio.run(session)


def test_mcp_over_stdio_with_the_sdk_client(monitor_env: dict[str, Any]) -> None:
    from mcp import Client, StdioServerParameters

    session_dir = Path(monitor_env["env"]["SESSION_DIR"])
    before = _digest(session_dir)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "k8s_monitor", "mcp"],
        env={**os.environ, **monitor_env["env"]},
    )

    async def session() -> None:
        async with Client(params) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert "node_detail" in tools and "session_stats" in tools
            node = await client.call_tool("node_detail", {"name": "node-a"})
            assert not node.is_error and "allocatable" in _text(node)
            missing = await client.call_tool("get_object", {"kind": "Pod", "name": "gone"})
            assert missing.is_error and "not found" in _text(missing)

    anyio.run(session)
    assert _digest(session_dir) == before


def test_mcp_http_refuses_a_non_loopback_host(monitor_env: dict[str, Any]) -> None:
    assert main(["mcp", "--transport", "http", "--host", "0.0.0.0"]) == 2


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_mcp_over_streamable_http_on_loopback(monitor_env: dict[str, Any]) -> None:
    import socket
    import subprocess
    import time

    from mcp import Client

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "k8s_monitor", "mcp", "--transport", "http", "--port", str(port)],
        env={**os.environ, **monitor_env["env"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        async def session() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                assert "rollout_history" in tools
                history = await client.call_tool(
                    "rollout_history", {"namespace": "shop", "deployment": "checkout"}
                )
                assert not history.is_error and "checkout:2.0" in _text(history)

        anyio.run(session)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the guard before what ask and mcp hand out -----------------------------------------------

PLANTED = "hunter2-Planted-9f8e7d"


def _plant_in_ledger(monitor_env: dict[str, Any]) -> None:
    """A ledger line that missed the boundary (edited by hand, or written by an older version):
    the store's own guard would redact it on save, so the file is edited after."""
    path = ledger_path(monitor_env["settings"])
    summary = "the worker cannot log in to its database"
    text = path.read_text()
    assert summary in text
    path.write_text(text.replace(summary, f"{summary} at postgres://admin:{PLANTED}@db/shop"))


def test_ask_output_passes_the_guard(
    monitor_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from k8s_monitor.redaction import GUARD

    _plant_in_ledger(monitor_env)
    before = GUARD.hits().get("ask", 0)
    assert main(["ask", "why is the worker restarting?", "--no-model"]) == 0
    out = capsys.readouterr().out
    assert "cannot log in to its database" in out
    assert PLANTED not in out and "[REDACTED:" in out
    assert GUARD.hits().get("ask", 0) > before


def test_mcp_output_passes_the_guard(monitor_env: dict[str, Any], toolbox: Toolbox) -> None:
    from mcp import Client

    from k8s_monitor.cli.mcp import build_server
    from k8s_monitor.redaction import GUARD

    _plant_in_ledger(monitor_env)
    server = build_server(monitor_env["settings"], toolbox)
    before = GUARD.hits().get("mcp", 0)

    async def session() -> str:
        async with Client(server) as client:
            return _text(await client.call_tool("open_incidents", {}))

    text = anyio.run(session)
    assert "cannot log in to its database" in text
    assert PLANTED not in text
    assert GUARD.hits().get("mcp", 0) > before
