"""Alertmanager faults: killed mid-run, answering 5xx, refusing a batch. Nothing is lost, the
dispatch never raises, every failure is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from k8s_monitor.analysis.escalation import escalate
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import ServiceCatalog
from k8s_monitor.config import load_settings
from k8s_monitor.notify import DispatchResult, NotificationContext, build_notifier
from k8s_monitor.notify.notifier import MAX_REJECTIONS, Notifier, RetryPolicy
from tests.builders import finding
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.alertmanager import (
    ALERTMANAGER_BINARIES,
    ALERTMANAGER_PACKAGE,
    Alertmanager,
    require_tool,
)

pytestmark = pytest.mark.xdist_group("alertmanager")
CLUSTER = "faults"


def _findings(first: int, last: int) -> list[Finding]:
    message = "back-off restarting failed container"
    return [
        finding(f"web-{i}", Severity.CRITICAL, message=message, evidence={})
        for i in range(first, last)
    ]


class Cycles:
    """Ledger, escalation and a notifier; the clock moves a minute a cycle, in the past."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.ledger = Ledger()
        self.minute = -30

    def run(self, findings: list[Finding]) -> DispatchResult:
        self.minute += 1
        now = datetime.now(UTC) + timedelta(minutes=self.minute)
        self.ledger, update = update_ledger(self.ledger, findings, now=now)
        return self.notifier.dispatch(
            escalate(update, catalog=ServiceCatalog(), now=now),
            resolved=update.resolved,
            context=NotificationContext(cluster=CLUSTER, cycle=self.ledger.cycle),
            now=now,
        )


def _notifier(tmp_path: Path, url: str) -> Notifier:
    settings = load_settings(
        _env_file=None, session_dir=tmp_path / "s", cluster_name=CLUSTER, alertmanager_urls=url
    )
    notifier = build_notifier(settings)
    notifier.retry = RetryPolicy(attempts=1)
    return notifier


def test_alertmanager_killed_mid_run_has_every_open_alert_after_it_returns(
    tmp_path: Path,
) -> None:
    binary = require_tool(ALERTMANAGER_BINARIES, ALERTMANAGER_PACKAGE)
    with WebhookReceiver() as hook:
        am = Alertmanager(binary, tmp_path / "am", hook.url).start()
        cycles = Cycles(_notifier(tmp_path, am.url))
        try:
            for _ in range(2):
                assert cycles.run(_findings(0, 30)).sent == 1
            am.kill()
            down = [cycles.run(_findings(10, 40)), cycles.run(_findings(20, 50))]
            assert all(r.spooled == 1 and r.sent == 0 for r in down)  # the cycle goes on
            am.start()
            back = cycles.run(_findings(20, 50))
            assert back.redelivered == 2 and back.pending == 0
            active = {a["labels"]["fingerprint"] for a in am.alerts(cluster=CLUSTER)}
            assert active == {f.fingerprint for f in _findings(20, 50)}
        finally:
            am.stop()


def test_5xx_is_retried_from_the_spool_and_counted(tmp_path: Path) -> None:
    with WebhookReceiver() as proxy:  # what a proxy in front of Alertmanager answers
        cycles = Cycles(_notifier(tmp_path, proxy.url.split("/hooks")[0]))
        proxy.fail_always(status=503)
        with capture_logs() as logs:
            failed = cycles.run(_findings(0, 3))
        assert failed.spooled == 1 and failed.lost == 0
        assert any("HTTP 503" in str(e.get("error")) for e in logs)
        proxy.recover()
        cycles.minute += 1  # past the hold on a sink found down
        recovered = cycles.run(_findings(0, 3))
        assert recovered.redelivered == 1 and recovered.pending == 0
        posted = [r.body for r in proxy.received]
        assert len(posted) == 2 and all(len(body) == 3 for body in posted)


def test_a_refused_batch_is_counted_each_time_and_dropped_loudly_at_last(tmp_path: Path) -> None:
    with WebhookReceiver() as proxy:
        cycles = Cycles(_notifier(tmp_path, proxy.url.split("/hooks")[0]))
        proxy.fail_always(status=400)
        with capture_logs() as logs:
            results = [cycles.run(_findings(0, 1)) for _ in range(MAX_REJECTIONS + 1)]
        assert all(r.spooled == 1 for r in results)
        assert sum(r.dropped for r in results) >= 1
        assert any(e["event"] == "spooled_notification_dropped" for e in logs)
