"""Incident ledger: transitions across a multi-step scenario, and its atomic file store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import IncidentStatus, Ledger, LedgerUpdate, Trend
from k8s_monitor.analysis.ledger import LedgerStore, update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.errors import StorageError
from tests.unit.analysis.helpers import NOW, pod, snapshot, terminated, waiting

OWNER = ("ReplicaSet", "web-5d4c3b2a1")
LABELS = {"app": "web", "pod-template-hash": "5d4c3b2a1"}


def crashing(count: int) -> list[Finding]:
    """The cluster at one step: ``count`` crashing pods of Deployment web, plus a healthy one."""
    pods = [
        pod(
            f"web-5d4c3b2a1-{i}",
            owner=OWNER,
            labels=LABELS,
            ready=False,
            containers=[waiting("CrashLoopBackOff", restarts=5, last=terminated(1, "Error"))],
        )
        for i in range(count)
    ]
    pods.append(pod("web-5d4c3b2a1-ok", owner=OWNER, labels=LABELS))
    return analyze(snapshot(*pods), now=NOW)


def step(
    ledger: Ledger, findings: list[Finding], minute: int, resolve_after: int = 1
) -> tuple[Ledger, LedgerUpdate]:
    return update_ledger(
        ledger, findings, now=NOW + timedelta(minutes=minute), resolve_after=resolve_after
    )


def test_new_recurring_trend_resolved_reopened_flapping() -> None:
    ledger = Ledger()
    ledger, update = step(ledger, crashing(1), 0)
    assert ledger.cycle == 1
    [incident] = update.new
    fingerprint = incident.fingerprint
    assert incident.status is IncidentStatus.NEW and incident.first_cycle == 1

    ledger, update = step(ledger, crashing(3), 5)
    [incident] = update.recurring
    assert (incident.cycles_seen, incident.trend) == (2, Trend.WORSENING)
    assert incident.first_seen == NOW

    ledger, update = step(ledger, crashing(2), 10)
    assert update.recurring[0].trend is Trend.IMPROVING

    ledger, update = step(ledger, crashing(0), 15)
    [resolved] = update.resolved
    assert resolved.fingerprint == fingerprint
    assert resolved.resolved_at == NOW + timedelta(minutes=15)
    assert update.open == []

    ledger, update = step(ledger, crashing(1), 20)
    [reopened] = update.new
    assert (reopened.reopen_count, reopened.open_since) == (1, NOW + timedelta(minutes=20))
    assert reopened.first_seen == NOW  # history kept

    ledger, _ = step(ledger, crashing(0), 25)
    ledger, update = step(ledger, crashing(1), 30)
    [flapping] = update.flapping
    assert flapping.status is IncidentStatus.FLAPPING and flapping.reopen_count == 2
    ledger, update = step(ledger, crashing(1), 35)
    assert update.flapping[0].fingerprint == fingerprint  # stays flapping while open


def test_resolution_waits_for_k_absent_cycles() -> None:
    ledger, _ = step(Ledger(), crashing(1), 0, resolve_after=2)
    ledger, update = step(ledger, crashing(0), 5, resolve_after=2)
    assert update.resolved == [] and ledger.open_incidents()[0].cycles_absent == 1
    ledger, update = step(ledger, crashing(1), 10, resolve_after=2)
    assert update.recurring and update.recurring[0].cycles_absent == 0
    ledger, _ = step(ledger, crashing(0), 15, resolve_after=2)
    ledger, update = step(ledger, crashing(0), 20, resolve_after=2)
    assert len(update.resolved) == 1


def test_resolved_incidents_are_forgotten_after_a_day() -> None:
    ledger, _ = step(Ledger(), crashing(1), 0)
    ledger, _ = step(ledger, crashing(0), 5)
    assert len(ledger.incidents) == 1
    ledger, _ = step(ledger, [], 60 * 25)
    assert ledger.incidents == {}


def test_update_does_not_mutate_the_previous_ledger() -> None:
    first, _ = step(Ledger(), crashing(1), 0)
    before = {k: v.cycles_seen for k, v in first.incidents.items()}
    step(first, crashing(1), 5)
    assert {k: v.cycles_seen for k, v in first.incidents.items()} == before


# --- store ----------------------------------------------------------------------------------------


def test_store_round_trip_and_absent_file(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "state" / "ledger.json")
    assert store.load() == Ledger()
    ledger, _ = step(Ledger(), crashing(2), 0)
    store.save(ledger)
    loaded = store.load()
    assert loaded.cycle == 1
    assert loaded.incidents.keys() == ledger.incidents.keys()
    [incident] = loaded.incidents.values()
    assert incident.finding == next(iter(ledger.incidents.values())).finding
    assert [p.name for p in tmp_path.joinpath("state").iterdir()] == ["ledger.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"schema_version": 1}',
        b'{"schema_version": 99, "saved_at": "2024-01-01T00:00:00Z", "ledger": {}}',
    ],
)
def test_corrupt_file_is_quarantined_and_the_ledger_starts_empty(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "ledger.json"
    path.write_bytes(content)
    assert LedgerStore(path).load() == Ledger()
    quarantined = list(tmp_path.glob("ledger.json.corrupt-*"))
    assert len(quarantined) == 1 and quarantined[0].read_bytes() == content
    assert not path.exists()


def test_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.json"
    store = LedgerStore(path)
    ledger, _ = step(Ledger(), crashing(1), 0)
    store.save(ledger)
    before = path.read_bytes()

    def broken_replace(self: Path, target: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", broken_replace)
    later, _ = step(ledger, crashing(2), 5)
    with pytest.raises(StorageError, match="No space left"):
        store.save(later)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_digest_lists_open_worst_first_then_recently_resolved() -> None:
    from k8s_monitor.analysis.ledger import ledger_digest

    warn = pod(
        "lonely", ready=False, ready_since="08:00", containers=[waiting("ContainerCreating")]
    )
    findings = crashing(1) + analyze(snapshot(warn), now=NOW)
    ledger, _ = step(Ledger(), findings, 0)
    ledger, _ = step(ledger, crashing(1), 5)  # the unready pod resolves
    digest = ledger_digest(ledger, NOW + timedelta(minutes=5))
    assert [(d["reason"], d["status"]) for d in digest] == [
        ("CrashLoopBackOff", "recurring"),
        ("PodNotReady", "resolved"),
    ]
    assert digest[0]["open_minutes"] == 5 and digest[0]["affected"] == 1
    assert ledger_digest(ledger, NOW, limit=1)[0]["reason"] == "CrashLoopBackOff"
