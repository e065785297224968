"""A NotReady node carrying 40 failing pods of 10 Deployments (each behind a Service), through the
whole cycle: one notification naming the node, one incident, every finding carrying its cause and
evidence."""

from __future__ import annotations

from pathlib import Path

from k8s_monitor.config import load_settings
from k8s_monitor.report import read_report
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble
from tests.fakes.webhook_receiver import WebhookReceiver

NODE = "ip-10-2-1-20.eu-west-1.compute.internal"


def test_a_lost_node_is_one_notification_naming_the_node(tmp_path: Path) -> None:
    with (
        SimServer(load_scenario("node-outage"), host="127.0.0.1", port=0) as server,
        WebhookReceiver() as receiver,
    ):
        settings = load_settings(
            session_id="root-cause",
            kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig", token="e2e"),
            session_dir=tmp_path / "sessions",
            report_dir=tmp_path / "reports",
            spool_dir=tmp_path / "spool",
            llm_provider="offline",
            metrics_port=0,
            webhook_url=receiver.url,
        )
        monitor = assemble(settings)
        try:
            baseline = monitor.runner.run()
            server.advance()
            outage = monitor.runner.run()
        finally:
            monitor.close()

    assert baseline.findings == []
    alerts = [r.body for r in receiver.received if r.body["kind"] == "alert"]
    assert len(alerts) == 1, [a["title"] for a in alerts]
    [item] = alerts[0]["items"]
    assert item["cause"]["kind"] == "Node" and item["cause"]["name"] == NODE
    # Per Deployment: unavailable, pods not ready, its Service without ready endpoints.
    assert item["symptom_count"] == 30
    assert NODE in alerts[0]["title"]

    assert outage.report_path is not None
    report = read_report(Path(outage.report_path))
    assert len(report.findings) == 31
    assert all(f.evidence for f in report.findings)
    # Every symptom names its cause; only the node's own finding is a root.
    assert [f.kind for f in report.findings if f.caused_by is None] == ["Node"]
    [incident] = report.incidents
    assert incident.root_cause.name == NODE and len(incident.findings) == 31
    assert report.evidence.requests <= 2 * report.evidence.investigated
    assert "root cause" in report.summary.lower() and NODE in report.summary
