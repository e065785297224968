"""Alerting through a real Alertmanager: incidents become alerts, silences mute every channel,
nothing is lost while it is down, and an HA pair notifies once.

Each test uses its own CLUSTER_NAME, so tests sharing the session's Alertmanager never see each
other's alerts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from k8s_monitor.analysis.escalation import escalate
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import parse_catalog
from k8s_monitor.config import load_settings
from k8s_monitor.errors import NotificationError
from k8s_monitor.notify import DispatchResult, NotificationContext, build_heartbeat, build_notifier
from k8s_monitor.notify.alertmanager import Peer
from k8s_monitor.notify.alerts import WATCHDOG
from k8s_monitor.notify.messages import AlertSpec
from k8s_monitor.notify.notifier import Notifier, RetryPolicy
from k8s_monitor.notify.sinks import DeliveryRejectedError
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble
from tests.builders import finding
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.alertmanager import (
    ALERTMANAGER_BINARIES,
    ALERTMANAGER_PACKAGE,
    Alertmanager,
    free_port,
    notified_alerts,
    require_tool,
    wait_for,
)

pytestmark = pytest.mark.xdist_group("alertmanager")

CATALOG = parse_catalog(
    """
services:
  - {name: pay, namespaces: [pay], priority: P0, runbook_url: "https://runbooks.example/pay"}
  - {name: shop, namespaces: [shop], priority: P2}
"""
)
_names = itertools.count(1)


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return require_tool(ALERTMANAGER_BINARIES, ALERTMANAGER_PACKAGE)


@pytest.fixture(scope="session")
def am_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def alertmanager(
    alertmanager_binary: str, am_receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Alertmanager]:
    am = Alertmanager(alertmanager_binary, tmp_path_factory.mktemp("am"), am_receiver.url)
    am.start()
    yield am
    am.stop()


@pytest.fixture
def cluster() -> str:
    return f"test-{next(_names)}-{datetime.now(UTC).strftime('%H%M%S%f')}"


def crashloop(namespace: str, name: str, severity: Severity = Severity.CRITICAL) -> Finding:
    message = f"{name} is crash looping"
    evidence = {"restart_count": 9}
    return finding(name, severity, namespace=namespace, message=message, evidence=evidence)


class World:
    """A ledger, escalation and one notifier; one cycle per ``tick``, on the real clock."""

    def __init__(self, notifier: Notifier, cluster: str) -> None:
        self.notifier = notifier
        self.cluster = cluster
        self.ledger = Ledger()
        self.update = LedgerUpdate(cycle=0)

    def tick(self, findings: list[Finding], minute: int = 0) -> DispatchResult:
        """``minute`` moves the clock, past the notifier's hold on a sink found down.

        Kept in the past: an alert ended "now" must read as resolved to Alertmanager's clock.
        """
        now = datetime.now(UTC) + timedelta(minutes=minute)
        self.ledger, self.update = update_ledger(self.ledger, findings, now=now)
        escalations = escalate(self.update, catalog=CATALOG, now=now)
        context = NotificationContext(
            cluster=self.cluster, cycle=self.ledger.cycle, summary="pay is crash looping"
        )
        return self.notifier.dispatch(
            escalations, resolved=self.update.resolved, context=context, now=now
        )


def _notifier(tmp_path: Path, cluster: str, urls: list[str], **settings: Any) -> Notifier:
    config = load_settings(
        _env_file=None,
        session_dir=tmp_path / "s",
        cluster_name=cluster,
        alertmanager_urls=",".join(urls),
        notify_timeout_seconds=2,
        **settings,
    )
    notifier = build_notifier(config)
    notifier.retry = RetryPolicy(attempts=1)
    return notifier


def _alerts_for(receiver: WebhookReceiver, cluster: str, status: str) -> list[dict[str, Any]]:
    return [
        a
        for a in notified_alerts([r.body for r in receiver.received], cluster)
        if a["status"] == status
    ]


def test_an_incident_becomes_an_alert_with_its_labels_and_its_resolution_resolves_it(
    tmp_path: Path, alertmanager: Alertmanager, am_receiver: WebhookReceiver, cluster: str
) -> None:
    world = World(_notifier(tmp_path, cluster, [alertmanager.url]), cluster)
    result = world.tick([crashloop("pay", "api")])
    assert result.alerts == 1 and result.sent == 1 and result.spooled == 0

    assert wait_for(lambda: len(_alerts_for(am_receiver, cluster, "firing")) == 1)
    firing = _alerts_for(am_receiver, cluster, "firing")[0]
    incident = world.update.new[0]
    assert firing["labels"] == {
        "alertname": "K8sMonitorCrashLoopBackOff",
        "severity": "critical",
        "cluster": cluster,
        "namespace": "pay",
        "kind": "Deployment",
        "object": "api",
        "fingerprint": incident.fingerprint,
        "service": "pay",
        "source": "k8s-monitor",
    }
    notes = firing["annotations"]
    assert notes["summary"].startswith("SEV-1 CrashLoopBackOff Deployment/pay/api")
    assert notes["description"] == "pay is crash looping"
    assert notes["runbook_url"] == "https://runbooks.example/pay"
    assert '"restart_count":9' in notes["evidence"]
    starts = datetime.fromisoformat(firing["startsAt"].replace("Z", "+00:00"))
    assert abs(starts - incident.open_since) < timedelta(seconds=1)

    world.tick([])  # the incident resolved: sent once, ended now
    assert wait_for(lambda: len(_alerts_for(am_receiver, cluster, "resolved")) == 1)
    resolved = _alerts_for(am_receiver, cluster, "resolved")[0]
    assert resolved["labels"] == firing["labels"]
    again = world.tick([])
    assert again.alerts == 0  # nothing left to tell Alertmanager


def test_open_incidents_are_re_sent_every_cycle_with_ends_at_ahead(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    world = World(_notifier(tmp_path, cluster, [alertmanager.url]), cluster)
    findings = [crashloop("shop", f"web-{i}", Severity.WARNING) for i in range(3)]
    assert world.tick(findings).alerts == 3
    assert world.tick(findings).alerts == 3  # no cooldown towards Alertmanager
    alerts = alertmanager.alerts(cluster=cluster)
    assert len(alerts) == 3
    for alert in alerts:
        ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
        # Three 15-minute intervals ahead: a dead monitor's alerts expire by themselves.
        assert timedelta(minutes=44) < ends - datetime.now(UTC) <= timedelta(minutes=45)
        assert alert["labels"]["severity"] == "warning"


def test_a_level_change_ends_the_alert_under_its_old_labels(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    world = World(_notifier(tmp_path, cluster, [alertmanager.url]), cluster)
    world.tick([crashloop("shop", "web", Severity.WARNING)])
    world.tick([crashloop("shop", "web", Severity.CRITICAL)])
    active = alertmanager.alerts(cluster=cluster)
    assert [a["labels"]["severity"] for a in active] == ["critical"]


def test_a_silence_in_alertmanager_holds_the_slack_message(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    with WebhookReceiver() as slack:
        notifier = _notifier(tmp_path, cluster, [alertmanager.url], slack_webhook_url=slack.url)
        world = World(notifier, cluster)
        silenced, paged = crashloop("pay", "api"), crashloop("pay", "db")
        # On-call silences the api alert once (as with amtool), before the monitor sees it.
        alertmanager.silence({"cluster": cluster, "fingerprint": silenced.fingerprint})
        with capture_logs() as logs:
            result = world.tick([silenced, paged])
        assert result.silenced == 1
        held = [e for e in logs if e["event"] == "notification_held_by_silence"]
        assert [e["fingerprint"] for e in held] == [silenced.fingerprint]
        texts = [msgspec.json.encode(r.body).decode() for r in slack.received]
        assert len(texts) == 1 and "db" in texts[0] and "Deployment/pay/api" not in texts[0]


def test_without_an_answer_from_alertmanager_slack_is_notified_and_the_log_says_so(
    tmp_path: Path, cluster: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with WebhookReceiver() as slack:
        world = World(_notifier(tmp_path, cluster, [dead], slack_webhook_url=slack.url), cluster)
        with capture_logs() as logs:
            result = world.tick([crashloop("pay", "api")])
        assert len(slack.received) == 1
        assert result.spooled == 1  # the alert for Alertmanager waits in the spool
        assert any(e["event"] == "silences_unknown_notifying_anyway" for e in logs)


@pytest.mark.xdist_group("alertmanager")
def test_alerts_spooled_while_alertmanager_is_down_are_delivered_after_none_lost(
    tmp_path: Path, alertmanager_binary: str, cluster: str
) -> None:
    with WebhookReceiver() as hook:
        am = Alertmanager(alertmanager_binary, tmp_path / "am", hook.url)
        world = World(_notifier(tmp_path, cluster, [am.url]), cluster)
        opened: set[str] = set()
        for cycle in range(3):  # down: three cycles, each opening one more incident
            findings = [crashloop("shop", f"web-{i}") for i in range(cycle + 1)]
            opened |= {f.fingerprint for f in findings}
            result = world.tick(findings, minute=cycle - 10)
            assert result.spooled == 1 and result.sent == 0
        am.start()
        try:
            result = world.tick([crashloop("shop", f"web-{i}") for i in range(3)], minute=-7)
            assert result.redelivered == 3 and result.sent == 1 and result.pending == 0
            assert wait_for(
                lambda: (
                    {a["labels"]["fingerprint"] for a in _alerts_for(hook, cluster, "firing")}
                    == opened
                )
            )
            # and a restart of Alertmanager (alerts live in its memory) loses nothing either
            am.stop()
            world.tick([crashloop("shop", "web-0")], minute=-6)  # two resolved while it is down
            am.start()
            result = world.tick([crashloop("shop", "web-0")], minute=-5)
            assert result.redelivered == 1 and result.pending == 0
            assert wait_for(lambda: len(_alerts_for(hook, cluster, "resolved")) == 2)
        finally:
            am.stop()


def test_two_peers_receive_every_alert_and_notify_once(
    tmp_path: Path, alertmanager_binary: str, cluster: str
) -> None:
    with WebhookReceiver() as hook:
        first_port, second_port = free_port(), free_port()
        first = Alertmanager(
            alertmanager_binary,
            tmp_path / "a",
            hook.url,
            cluster_port=first_port,
            peers=(second_port,),
        )
        second = Alertmanager(
            alertmanager_binary,
            tmp_path / "b",
            hook.url,
            cluster_port=second_port,
            peers=(first_port,),
        )
        first.start()
        second.start()
        try:
            assert wait_for(
                lambda: len(first.api("GET", "/api/v2/status")["cluster"]["peers"]) == 2
            )
            world = World(_notifier(tmp_path, cluster, [first.url, second.url]), cluster)
            result = world.tick([crashloop("pay", "api")])
            assert result.sent == 2  # one message per peer, as Prometheus posts
            assert len(first.alerts(cluster=cluster)) == len(second.alerts(cluster=cluster)) == 1
            assert wait_for(lambda: len(_alerts_for(hook, cluster, "firing")) >= 1)
            # The second peer waits one peer timeout (1s), sees the first one's log, stays quiet.
            assert not wait_for(lambda: len(_alerts_for(hook, cluster, "firing")) > 1, 3.0)
        finally:
            first.stop()
            second.stop()


def test_watchdog_fires_and_heartbeat_pings_after_a_good_cycle_and_fail_after_a_bad_one(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    with WebhookReceiver() as ping:
        settings = load_settings(
            _env_file=None,
            session_dir=tmp_path / "s",
            cluster_name=cluster,
            alertmanager_urls=alertmanager.url,
            heartbeat_url=ping.url,
        )
        heartbeat = build_heartbeat(settings)
        assert heartbeat is not None
        try:
            heartbeat.beat(True)
            assert heartbeat.wait(5)
            watchdog = alertmanager.alerts(cluster=cluster, alertname=WATCHDOG)
            assert len(watchdog) == 1 and watchdog[0]["status"]["state"] == "active"
            heartbeat.beat(False)
            assert heartbeat.wait(5)
            paths = [r.path for r in ping.received]
            assert paths == [
                "/hooks/T000/B000/secret-token-xyz",
                "/hooks/T000/B000/secret-token-xyz/fail",
            ]
        finally:
            heartbeat.close()


def test_alertmanager_refusing_an_alert_is_a_rejection_with_its_reason(
    alertmanager: Alertmanager,
) -> None:
    peer = Peer("alertmanager-1", alertmanager.url, timeout=2)
    now = datetime.now(UTC)
    bad = AlertSpec(labels={}, starts_at=now, ends_at=now + timedelta(minutes=5))
    with pytest.raises(DeliveryRejectedError, match="alertmanager-1: HTTP 400"):
        peer.post_alerts([bad])


def test_label_values_are_sanitised_so_alertmanager_takes_them(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    world = World(_notifier(tmp_path, cluster, [alertmanager.url]), cluster)
    ugly = "web\x00\x1b[31m\u202e" + "x" * 600
    result = world.tick([crashloop("shop", ugly)])
    assert result.sent == 1 and result.spooled == 0
    [alert] = alertmanager.alerts(cluster=cluster)
    assert len(alert["labels"]["object"]) <= 256
    assert all(ch.isprintable() for ch in alert["labels"]["object"])


def test_an_unreachable_peer_is_a_retryable_error(tmp_path: Path) -> None:
    peer = Peer("alertmanager-1", f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(NotificationError, match="alertmanager-1: URLError"):
        peer.suppressed("prod")


def test_the_assembled_monitor_alerts_and_refreshes_its_watchdog(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    with SimServer(load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        settings = load_settings(
            _env_file=None,
            kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig", token="am"),
            session_dir=tmp_path / "sessions",
            report_dir=tmp_path / "reports",
            llm_provider="offline",
            metrics_port=0,
            cluster_name=cluster,
            alertmanager_urls=alertmanager.url,
        )
        monitor = assemble(settings)
        try:
            monitor.runner.run()
            server.advance()
            report = monitor.runner.run()
            heartbeat = monitor.heartbeat
            assert heartbeat is not None and heartbeat.wait(5)
        finally:
            monitor.close()
    names = {a["labels"]["alertname"] for a in alertmanager.alerts(cluster=cluster)}
    assert WATCHDOG in names
    assert "K8sMonitorCrashLoopBackOff" in names, names
    assert report.notifications["alerts"] >= 1 and report.notifications["pending"] == 0


def test_a_cluster_name_with_quotes_still_matches_its_silences(
    tmp_path: Path, alertmanager: Alertmanager, cluster: str
) -> None:
    odd = f'{cluster} "eu\\west"'
    with WebhookReceiver() as slack:
        world = World(
            _notifier(tmp_path, odd, [alertmanager.url], slack_webhook_url=slack.url), odd
        )
        muted = crashloop("pay", "api")
        alertmanager.silence({"fingerprint": muted.fingerprint, "cluster": odd})
        with capture_logs() as logs:
            result = world.tick([muted])
        assert result.silenced == 1 and slack.received == []
        assert not any(e["event"] == "silences_unknown_notifying_anyway" for e in logs)
