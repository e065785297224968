"""Records saved by the previous version (tests/data/records-v1, no schema_version) load as the
current typed records, keep their JSON shape, and are written back in the current form."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
import orjson

from k8s_monitor.notify import dedup, spool
from k8s_monitor.notify.dedup import DedupStore
from k8s_monitor.notify.messages import webhook_payload
from k8s_monitor.notify.spool import Spool
from k8s_monitor.report import (
    SCHEMA_VERSION,
    EscalationRecord,
    FindingRecord,
    IncidentRecord,
    IncidentSummary,
    InvestigationRecord,
    RootCauseRecord,
    RootRecord,
    read_report,
    write_report,
)

V1 = Path(__file__).resolve().parents[1] / "data" / "records-v1"
NODE = "ip-10-2-1-20.eu-west-1.compute.internal"


def _raw(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def test_a_version_1_report_loads_as_typed_records() -> None:
    report = read_report(V1 / "report.json")
    assert report.schema_version == SCHEMA_VERSION == 2
    assert len(report.findings) == 31
    assert all(isinstance(f, FindingRecord) for f in report.findings)
    node = next(f for f in report.findings if f.caused_by is None)
    assert node.kind == "Node" and node.name == NODE and node.evidence
    symptoms = [f for f in report.findings if f.caused_by is not None]
    assert {f.caused_by.kind for f in symptoms if f.caused_by} == {"Node", "Deployment"}
    [incident] = report.incidents
    assert isinstance(incident, IncidentRecord) and isinstance(incident.root_cause, RootRecord)
    assert incident.root_cause.name == NODE and len(incident.findings) == 31
    [new] = report.incident_changes["new"]
    assert isinstance(new, IncidentSummary) and new.cause is not None and len(new.symptoms) == 30
    assert all(isinstance(e, EscalationRecord) for e in report.escalations)
    assert report.escalations[0].sev == "SEV-2" and report.escalations[0].why
    assert report.evidence.investigated == 31 and isinstance(report.evidence.investigated, int)
    assert isinstance(report.investigation, InvestigationRecord)
    assert report.investigation.tool_calls == 3 and report.investigation.stopped == "tool_calls"
    [cause] = report.root_causes.values()
    assert isinstance(cause, RootCauseRecord) and cause.confidence == "high"


def test_a_version_1_report_keeps_its_json_shape() -> None:
    """Only schema_version is new, and an incident summary always says root_cause (null)."""
    old = _raw(V1 / "report.json")
    new = msgspec.to_builtins(read_report(V1 / "report.json"))
    assert new.pop("schema_version") == SCHEMA_VERSION
    for summary in new["incident_changes"]["new"]:
        assert summary.pop("root_cause") is None
    assert new == old


def test_a_version_1_report_is_written_back_in_the_current_form(tmp_path: Path) -> None:
    report = read_report(V1 / "report.json")
    path = write_report(report, tmp_path, retention=5)
    assert _raw(path)["schema_version"] == SCHEMA_VERSION
    assert _raw(path)["evidence"]["investigated"] == 31  # an int again, not 31.0
    assert read_report(path) == report


def test_a_version_1_dedup_state_loads_and_is_saved_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "notify-state.json"
    shutil.copy(V1 / "notify-state.json", path)
    store = DedupStore(path)
    state = store.load()
    assert list(state.notified) == ["35ccac4b8e32"]
    seen = state.notified["35ccac4b8e32"]
    assert seen.sev == 2 and not seen.resolved and not seen.explained
    store.save(state)
    saved = _raw(path)
    assert saved["schema_version"] == dedup.SCHEMA_VERSION == 2
    assert {k: v for k, v in saved.items() if k != "schema_version"} == _raw(
        V1 / "notify-state.json"
    )
    assert store.load() == state


def test_a_version_1_spool_entry_is_resent_with_the_same_bytes(tmp_path: Path) -> None:
    old = _raw(V1 / "spool-entry.json")
    directory = tmp_path / "pending"
    directory.mkdir()
    name = f"20261202T161058046825-webhook-{old['message']['key']}.json"
    shutil.copy(V1 / "spool-entry.json", directory / name)
    [(path, entry)] = Spool(directory).pending()
    assert entry.sink == "webhook" and entry.schema_version == spool.SCHEMA_VERSION == 2
    [item] = entry.message.items
    assert isinstance(item.cause, RootRecord) and item.cause.name == NODE
    # The receiver dedups on the idempotency key and the body: a retry must not differ.
    assert orjson.loads(webhook_payload(entry.message)) == old["message"]
    entry.attempts += 1
    Spool(directory).update(path, entry)
    saved = _raw(path)
    assert saved["schema_version"] == 2 and saved["attempts"] == old["attempts"] + 1
    assert saved["message"] == old["message"]
