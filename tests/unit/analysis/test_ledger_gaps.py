"""A collection gap hides objects; it must not resolve the incidents about them."""

from __future__ import annotations

from datetime import UTC, datetime

from k8s_monitor.analysis.incidents import IncidentStatus, Ledger
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.cluster.resources import unobserved_kinds
from k8s_monitor.cluster.snapshot import ClusterSnapshot, CollectionGap
from tests.unit.analysis.helpers import NOW
from tests.unit.analysis.test_ledger import crashing


def test_incident_about_an_unseen_kind_stays_open() -> None:
    ledger, _ = update_ledger(Ledger(), crashing(2), now=NOW)
    ledger, update = update_ledger(ledger, [], now=NOW, unobserved_kinds=frozenset({"Pod"}))
    assert update.resolved == []
    (incident,) = ledger.incidents.values()
    assert incident.is_open and incident.cycles_absent == 0
    # Seen again once pods are readable: it was never gone.
    ledger, update = update_ledger(ledger, crashing(2), now=NOW)
    assert [i.status for i in update.recurring] == [IncidentStatus.RECURRING]


def test_without_the_gap_the_same_absence_resolves() -> None:
    ledger, _ = update_ledger(Ledger(), crashing(2), now=NOW)
    _, update = update_ledger(ledger, [], now=NOW, unobserved_kinds=frozenset({"Node"}))
    assert len(update.resolved) == 1


def _gap(resource: str, group: str = "") -> CollectionGap:
    return CollectionGap(resource=resource, api_group=group, reason="forbidden", status=403)


def test_gaps_map_to_kinds_by_group_and_plural() -> None:
    snapshot = ClusterSnapshot(
        cluster="c",
        collected_at=datetime.now(UTC),
        gaps=[
            _gap("pods"),
            _gap("horizontalpodautoscalers", "autoscaling"),
            _gap("nodes", "metrics.k8s.io"),
        ],
    )
    assert unobserved_kinds(snapshot.gaps) == {"Pod", "HorizontalPodAutoscaler"}
