"""Notifications end to end against a loopback receiver: routing, dedup, spool, secrecy."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from k8s_monitor.analysis.escalation import Sev, escalate
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import parse_catalog
from k8s_monitor.config import Settings, load_settings
from k8s_monitor.errors import ConfigurationError
from k8s_monitor.notify import (
    DispatchResult,
    NotificationContext,
    Notifier,
    RetryPolicy,
    build_notifier,
)
from k8s_monitor.notify.messages import CHAT_KINDS, Notification, alert, slack_payload
from k8s_monitor.notify.notifier import MAX_REJECTIONS, SINK_HOLD
from k8s_monitor.notify.sinks import slack_sink, webhook_sink
from tests import builders
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.unit.analysis.helpers import NOW

CATALOG = parse_catalog(
    """
services:
  - {name: pay, namespaces: [pay], priority: P0}
  - {name: shop, namespaces: [shop], priority: P2}
  - {name: lab, namespaces: [lab], priority: P3}
"""
)
CTX = NotificationContext(
    cluster="prod", cycle=1, summary="web is crash looping", actions=["roll back web to 1.4.1"]
)


def finding(namespace: str, severity: Severity, name: str, message: str = "boom") -> Finding:
    evidence = {"restart_count": 9}
    return builders.finding(name, severity, namespace=namespace, message=message, evidence=evidence)


class World:
    """A ledger and escalation loop around one notifier, one cycle per ``tick``."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.ledger = Ledger()
        self.update = LedgerUpdate(cycle=0)

    def tick(
        self, findings: list[Finding], minute: int = 0, model: dict[str, Sev] | None = None
    ) -> DispatchResult:
        now = NOW + timedelta(minutes=minute)
        self.ledger, self.update = update_ledger(self.ledger, findings, now=now)
        escalations = escalate(self.update, catalog=CATALOG, now=now, model_severities=model)
        context = msgspec.structs.replace(CTX, cycle=self.ledger.cycle)
        return self.notifier.dispatch(
            escalations, resolved=self.update.resolved, context=context, now=now
        )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def make_notifier(tmp_path: Path, receiver: WebhookReceiver) -> Notifier:
    return Notifier(
        [webhook_sink(receiver.url, timeout=5)],
        tmp_path / "spool",
        cooldown=timedelta(minutes=60),
        retry=RetryPolicy(attempts=3, base_delay=0.0),
        sleep=lambda _: None,
    )


SEV1 = finding("pay", Severity.CRITICAL, "api")
SEV2 = finding("shop", Severity.CRITICAL, "web")
SEV3_A = finding("shop", Severity.WARNING, "cart")
SEV3_B = finding("lab", Severity.CRITICAL, "demo")
SEV4 = finding("lab", Severity.WARNING, "toy")


def test_routing_immediate_digest_and_log_only(tmp_path: Path, receiver: WebhookReceiver) -> None:
    world = World(make_notifier(tmp_path, receiver))
    result = world.tick([SEV1, SEV2, SEV3_A, SEV3_B, SEV4])
    kinds = [(r.body["kind"], r.body["sev"], len(r.body["items"])) for r in receiver.received]
    assert kinds == [("alert", 1, 1), ("alert", 2, 1), ("digest", 3, 2)]
    assert (result.sent, result.logged, result.spooled, result.pending) == (3, 1, 0, 0)
    keys = receiver.keys()
    assert all(keys) and len(set(keys)) == 3
    first = receiver.received[0].body
    assert first["summary"] == "web is crash looping"
    assert first["items"][0]["evidence"] == {"restart_count": 9}


def test_cooldown_suppresses_repeats_until_it_passes(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    world.tick([SEV2])
    second = world.tick([SEV2], minute=30)
    assert (second.sent, second.suppressed) == (0, 1)
    third = world.tick([SEV2], minute=61)
    assert third.sent == 1
    assert len(receiver.received) == 2


def test_severity_rise_renotifies_inside_the_cooldown(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    world.tick([SEV3_A])
    fingerprint = SEV3_A.fingerprint
    result = world.tick([SEV3_A], minute=5, model={fingerprint: Sev.SEV1})
    assert result.sent == 1
    assert [r.body["sev"] for r in receiver.received] == [3, 1]


def test_resolved_notice_only_for_notified_incidents(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    world.tick([SEV2, SEV4])
    result = world.tick([], minute=5)
    assert result.resolved == 1
    last = receiver.received[-1].body
    assert last["kind"] == "resolved"
    assert [i["fingerprint"] for i in last["items"]] == [SEV2.fingerprint]
    # it can page again right away when it comes back
    assert world.tick([SEV2], minute=6).sent == 1


def test_failure_is_spooled_and_delivered_next_cycle_exactly_once(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    receiver.fail_always(503)
    failed = world.tick([SEV1, SEV2])
    assert (failed.sent, failed.spooled, failed.pending) == (0, 2, 2)
    assert receiver.attempts == 3  # retried, then the sink counted as down for this cycle
    receiver.recover()
    retried = world.tick([SEV1, SEV2], minute=5)
    assert (retried.redelivered, retried.sent, retried.suppressed, retried.pending) == (2, 0, 2, 0)
    again = world.tick([SEV1, SEV2], minute=10)
    assert (again.redelivered, again.sent) == (0, 0)
    keys = receiver.keys()
    assert len(keys) == 2 and len(set(keys)) == 2
    assert {r.body["items"][0]["fingerprint"] for r in receiver.received} == {
        SEV1.fingerprint,
        SEV2.fingerprint,
    }


def test_a_dead_sink_is_held_down_across_dispatches_then_retried(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    notifier = make_notifier(tmp_path, receiver)
    world = World(notifier)
    receiver.fail_always(503)
    world.tick([SEV1])
    assert receiver.attempts == 3
    # The cycle's second dispatch, seconds later: no new attempt at the dead receiver.
    held = notifier.dispatch(
        [], resolved=[], context=CTX, now=NOW + SINK_HOLD - timedelta(seconds=1)
    )
    assert receiver.attempts == 3 and held.pending == 1
    receiver.recover()
    after = notifier.dispatch([], resolved=[], context=CTX, now=NOW + SINK_HOLD)
    assert after.redelivered == 1 and after.pending == 0


def test_transient_failure_is_retried_within_the_cycle(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    receiver.fail(times=2)
    result = world.tick([SEV1])
    assert (result.sent, result.spooled) == (1, 0)
    assert receiver.attempts == 3 and len(receiver.received) == 1


def test_rejected_message_is_not_retried_and_eventually_dropped(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    receiver.fail_always(400)
    result = world.tick([SEV1])
    assert (result.spooled, receiver.attempts) == (1, 1)
    dropped = 0
    for cycle in range(1, MAX_REJECTIONS + 1):
        dropped += world.tick([SEV1], minute=cycle).dropped
    assert dropped == 1
    assert list((tmp_path / "spool" / "pending").glob("*.json")) == []


def test_webhook_url_never_reaches_logs_or_spool(tmp_path: Path, receiver: WebhookReceiver) -> None:
    notifier = make_notifier(tmp_path, receiver)
    world = World(notifier)
    receiver.fail_always(500)
    with capture_logs() as logs:
        world.tick([SEV1])
    assert logs
    assert "secret-token-xyz" not in json.dumps(logs, default=str)
    spooled = list((tmp_path / "spool" / "pending").glob("*.json"))
    assert spooled and all("secret-token-xyz" not in p.read_text() for p in spooled)
    assert "secret-token-xyz" not in repr(notifier.sinks)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sink_unreachable_is_spooled(tmp_path: Path) -> None:
    notifier = Notifier(
        [webhook_sink(f"http://127.0.0.1:{_closed_port()}/hook", timeout=1)],
        tmp_path / "spool",
        retry=RetryPolicy(attempts=1),
        sleep=lambda _: None,
    )
    result = World(notifier).tick([SEV1])
    assert (result.spooled, result.pending) == (1, 1)


def test_slack_payload_is_block_kit_and_escapes_untrusted_text() -> None:
    hostile = finding("pay", Severity.CRITICAL, "api", message="log says <!channel> & <@U123>")
    _, update = update_ledger(Ledger(), [hostile], now=NOW)
    [escalation] = escalate(update, catalog=CATALOG, now=NOW)
    body = json.loads(slack_payload(alert(escalation, CTX, NOW)))
    assert body["blocks"][0]["type"] == "header"
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    text = json.dumps(body)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "SEV-1" in text and "roll back web" in text


def test_build_notifier_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        session_dir=tmp_path,
        slack_webhook_url="https://hooks.example/x",
        webhook_url=None,
        notify_cooldown_minutes=15,
    )
    notifier = build_notifier(settings)
    assert notifier.sink_names == ["log", "slack"]
    assert notifier.cooldown == timedelta(minutes=15)
    assert notifier.spool.directory.parent == settings.spool_dir


def test_flapping_incident_does_not_page_on_every_bounce(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = World(make_notifier(tmp_path, receiver))
    world.tick([SEV2], minute=0)  # alert
    world.tick([], minute=5)  # resolved notice
    world.tick([SEV2], minute=10)  # back once: alert again
    world.tick([], minute=15)  # resolved notice
    flapping = world.tick([SEV2], minute=20)  # back again: flapping, inside the cooldown
    assert world.update.flapping and (flapping.sent, flapping.suppressed) == (0, 1)
    quiet = world.tick([], minute=25)
    assert quiet.resolved == 0
    later = world.tick([SEV2], minute=80)  # flapping still, but the cooldown has passed
    assert later.sent == 1
    kinds = [r.body["kind"] for r in receiver.received]
    assert kinds == ["alert", "resolved", "alert", "resolved", "alert"]


def test_dispatch_result_counts_are_a_plain_dict(tmp_path: Path, receiver: WebhookReceiver) -> None:
    result = World(make_notifier(tmp_path, receiver)).tick([SEV1, SEV4])
    assert result.counts["sent"] == 1 and result.counts["logged"] == 1
    assert all(isinstance(v, int) for v in result.counts.values())


def test_slack_sink_posts_block_kit_with_the_idempotency_key(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    notifier = Notifier(
        [slack_sink(receiver.url, timeout=5)],
        tmp_path / "spool",
        retry=RetryPolicy(attempts=1),
        sleep=lambda _: None,
    )
    World(notifier).tick([SEV1, SEV3_A])
    assert [r.body["blocks"][0]["type"] for r in receiver.received] == ["header", "header"]
    assert "SEV-1" in receiver.received[0].body["text"]
    assert all(r.headers["Content-Type"] == "application/json" for r in receiver.received)
    assert len(set(receiver.keys())) == 2


class _DiesAfterSending:
    """Delivers, then the process 'dies' before the notifier can record the delivery."""

    name = "webhook"
    kinds = CHAT_KINDS

    def __init__(self, url: str) -> None:
        self._inner = webhook_sink(url, timeout=5)

    def send(self, message: Notification) -> None:
        self._inner.send(message)
        raise KeyboardInterrupt


def test_crash_between_send_and_bookkeeping_resends_the_same_message(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    dying = Notifier(
        [_DiesAfterSending(receiver.url)],
        tmp_path / "spool",
        retry=RetryPolicy(attempts=1),
        sleep=lambda _: None,
    )
    world = World(dying)
    with pytest.raises(KeyboardInterrupt):
        world.tick([SEV1])
    restarted = World(make_notifier(tmp_path, receiver))
    restarted.ledger = world.ledger
    result = restarted.tick([SEV1], minute=5)
    assert (result.redelivered, result.sent, result.suppressed) == (1, 0, 1)
    keys = receiver.keys()
    assert len(keys) == 2 and keys[0] == keys[1]  # the receiver can drop the repeat by key


def test_broken_spool_disk_still_sends(tmp_path: Path, receiver: WebhookReceiver) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "pending").write_text("a file where the outbox directory should be")
    world = World(make_notifier(tmp_path, receiver))
    result = world.tick([SEV1])
    assert (result.sent, result.lost) == (1, 0)
    assert world.tick([SEV1], minute=5).suppressed == 1  # the dedup state was still saved
    assert len(receiver.received) == 1


def test_non_http_webhook_urls_are_refused_without_echoing_them(tmp_path: Path) -> None:
    # Refused when settings load, before any notifier exists: the daemon never starts with it.
    with pytest.raises(ConfigurationError) as caught:
        load_settings(session_dir=tmp_path, webhook_url="file:///etc/secret-token-xyz")
    assert caught.value.setting == "WEBHOOK_URL"
    assert "secret-token-xyz" not in str(caught.value)


def test_a_root_cause_found_after_the_page_is_sent_once_more(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    from k8s_monitor.analysis.incidents import RootCause
    from k8s_monitor.analysis.ledger import update_with_root_causes

    notifier = make_notifier(tmp_path, receiver)
    _, update = update_ledger(Ledger(), [SEV2], now=NOW)
    context = msgspec.structs.replace(CTX, cycle=1)
    page = escalate(update, catalog=CATALOG, now=NOW, model_severities={})
    assert notifier.dispatch(page, resolved=[], context=context, now=NOW).sent == 1
    cause = RootCause(summary="the image tag 2.0 was never pushed", next_steps=("kubectl ...",))
    explained = update_with_root_causes(update, {SEV2.fingerprint: cause})
    later = NOW + timedelta(minutes=1)
    follow_up = escalate(explained, catalog=CATALOG, now=later, model_severities={})
    assert notifier.dispatch(follow_up, resolved=[], context=context, now=later).sent == 1
    again = notifier.dispatch(follow_up, resolved=[], context=context, now=later)
    assert (again.sent, again.suppressed) == (0, 1)
    assert [r.body["kind"] for r in receiver.received] == ["alert", "root_cause"]
    items = [r.body["items"][0] for r in receiver.received]
    assert items[0]["root_cause"] is None
    assert items[1]["root_cause"].startswith("the image tag 2.0 was never pushed")
    assert items[1]["next_steps"] == ["kubectl ..."]
