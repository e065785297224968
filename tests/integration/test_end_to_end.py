"""The whole cycle on the real ``kubernetes`` client against the simulated cluster."""

from __future__ import annotations

from pathlib import Path

import orjson

from k8s_monitor.config import load_settings
from k8s_monitor.report import FindingRecord, read_report
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble


def _crashloop_reasons(report_findings: list[FindingRecord]) -> list[FindingRecord]:
    return [f for f in report_findings if f.reason == "CrashLoopBackOff"]


def test_crashloop_is_found_at_the_step_where_it_starts(tmp_path: Path) -> None:
    with SimServer(load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token="e2e")
        settings = load_settings(
            enable_long_context=True,
            session_id="e2e",
            kubeconfig=kubeconfig,
            session_dir=tmp_path / "sessions",
            report_dir=tmp_path / "reports",
            llm_provider="offline",
            metrics_port=0,
        )
        monitor = assemble(settings)
        try:
            baseline = monitor.runner.run()
            server.advance()
            crashing = monitor.runner.run()
        finally:
            monitor.close()

    assert not _crashloop_reasons(baseline.findings), "the healthy baseline has no crash loop"
    found = _crashloop_reasons(crashing.findings)
    assert found, crashing.findings
    assert found[0].kind == "Deployment"  # grouped to the workload, not one per pod
    assert any(i.reason == "CrashLoopBackOff" for i in crashing.incident_changes["new"])

    assert crashing.report_path is not None
    on_disk = read_report(Path(crashing.report_path))
    assert _crashloop_reasons(on_disk.findings)

    session = SessionManager(tmp_path / "sessions").load_session("e2e")
    assert session is not None
    history_text = orjson.dumps(session["conversation_history"]).decode()
    assert "CrashLoopBackOff" in history_text
    assert session["saved_at"]
