"""Escalation: the documented SEV table, max_downtime, and the floor the model cannot lower."""

from __future__ import annotations

from datetime import timedelta

import pytest

from k8s_monitor.analysis.escalation import (
    MONITOR_BLIND,
    Sev,
    blind_monitor_finding,
    escalate,
)
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.services import ServiceCatalog, parse_catalog
from tests.builders import finding
from tests.unit.analysis.helpers import NOW

CATALOG = parse_catalog(
    """
services:
  - {name: p0, namespaces: [p0], priority: P0, max_downtime: 10m}
  - {name: p1, namespaces: [p1], priority: P1}
  - {name: p2, namespaces: [p2], priority: P2}
  - {name: p3, namespaces: [p3], priority: P3}
"""
)


def opened(*findings: Finding, minutes: int = 0) -> LedgerUpdate:
    ledger, update = update_ledger(Ledger(), list(findings), now=NOW)
    for step in range(1, minutes + 1):
        ledger, update = update_ledger(ledger, list(findings), now=NOW + timedelta(minutes=step))
    return update


@pytest.mark.parametrize(
    ("severity", "namespace", "expected"),
    [
        (Severity.CRITICAL, "p0", Sev.SEV1),
        (Severity.CRITICAL, "p1", Sev.SEV2),
        (Severity.CRITICAL, "p2", Sev.SEV2),
        (Severity.CRITICAL, "p3", Sev.SEV3),
        (Severity.WARNING, "p0", Sev.SEV2),
        (Severity.WARNING, "p1", Sev.SEV3),
        (Severity.WARNING, "p2", Sev.SEV3),
        (Severity.WARNING, "p3", Sev.SEV4),
        (Severity.INFO, "p0", Sev.SEV4),
        (Severity.INFO, "p3", Sev.SEV4),
    ],
)
def test_floor_table(severity: Severity, namespace: str, expected: Sev) -> None:
    [decision] = escalate(
        opened(finding("web", severity, namespace=namespace)), catalog=CATALOG, now=NOW
    )
    assert decision.sev is expected and decision.floor is expected


def test_outliving_max_downtime_raises_one_level() -> None:
    update = opened(finding("web", Severity.WARNING, namespace="p0"), minutes=11)
    [decision] = escalate(update, catalog=CATALOG, now=NOW + timedelta(minutes=11))
    assert decision.sev is Sev.SEV1
    assert any("max_downtime" in why for why in decision.why)
    [early] = escalate(update, catalog=CATALOG, now=NOW + timedelta(minutes=5))
    assert early.sev is Sev.SEV2


def test_model_can_raise_but_never_lower_the_floor() -> None:
    update = opened(
        finding("web", Severity.CRITICAL, namespace="p2"),
        finding("b", Severity.WARNING, namespace="p3"),
    )
    by_ns = {
        e.incident.finding.subject.namespace: e.fingerprint
        for e in escalate(update, catalog=CATALOG, now=NOW)
    }
    decisions = escalate(
        update,
        catalog=CATALOG,
        now=NOW,
        model_severities={by_ns["p2"]: Sev.SEV4, by_ns["p3"]: Sev.SEV1},
    )
    sevs = {d.incident.finding.subject.namespace: d.sev for d in decisions}
    assert sevs == {"p2": Sev.SEV2, "p3": Sev.SEV1}
    assert [d.sev for d in decisions] == sorted(d.sev for d in decisions)


def test_default_catalog_blind_monitor_pages_at_sev2() -> None:
    blind = blind_monitor_finding("prod-eu", 3, "ClusterUnreachableError: connection refused")
    assert (blind.reason, blind.severity) == (MONITOR_BLIND, Severity.CRITICAL)
    assert "prod-eu" in blind.message and blind.evidence["consecutive_failures"] == 3
    [decision] = escalate(opened(blind), catalog=ServiceCatalog(), now=NOW)
    assert decision.sev is Sev.SEV2 and decision.sev.immediate


def test_sev_parse_and_labels() -> None:
    assert Sev.parse("SEV-2") is Sev.SEV2 and Sev.parse("sev1") is Sev.SEV1
    assert Sev.parse(3) is Sev.SEV3 and Sev.SEV4.label == "SEV-4"
    for bad in ("SEV-9", "critical", "", "SEV-1.5"):
        assert Sev.parse(bad) is None


def test_flapping_downtime_counts_from_the_first_appearance() -> None:
    bad = finding("web", Severity.WARNING, namespace="p0")
    ledger, update = update_ledger(Ledger(), [bad], now=NOW)
    for minute, present in ((2, False), (4, True), (6, False), (12, True)):
        ledger, update = update_ledger(
            ledger, [bad] if present else [], now=NOW + timedelta(minutes=minute)
        )
    [decision] = escalate(update, catalog=CATALOG, now=NOW + timedelta(minutes=12))
    assert decision.incident.status.value == "flapping"
    assert decision.sev is Sev.SEV1  # open 12m since first seen > max_downtime 10m
