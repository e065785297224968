"""Files written before root causes still load: ledgers without causes, reports with incidents
by status."""

from __future__ import annotations

import json
from pathlib import Path

from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import LedgerStore, update_ledger
from k8s_monitor.report import read_report
from tests.unit.analysis.helpers import NOW, pod, run, waiting

OLD_LEDGER = {
    "schema_version": 1,
    "saved_at": "2024-05-14T09:55:00Z",
    "ledger": {
        "cycle": 7,
        "incidents": {
            "FP": {
                "fingerprint": "FP",
                "finding": {
                    "subject": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                    "reason": "CrashLoopBackOff",
                    "severity": "critical",
                    "message": "web is crash looping",
                    "objects": [],
                    "evidence": {},
                },
                "status": "recurring",
                "first_seen": "2024-05-14T09:00:00Z",
                "last_seen": "2024-05-14T09:55:00Z",
                "first_cycle": 1,
                "last_cycle": 7,
            }
        },
    },
}


def test_a_ledger_written_before_causes_loads_and_keeps_its_fingerprints(tmp_path: Path) -> None:
    crashing = run(
        pod(
            "web-abc-1",
            owner=("ReplicaSet", "web-abc"),
            labels={"pod-template-hash": "abc"},
            ready=False,
            containers=[waiting("CrashLoopBackOff", restarts=9)],
        )
    )
    [finding] = [f for f in crashing if f.reason == "CrashLoopBackOff"]
    old = json.loads(json.dumps(OLD_LEDGER).replace('"FP"', json.dumps(finding.fingerprint)))
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(old))
    loaded = LedgerStore(path).load()
    [incident] = loaded.incidents.values()
    assert incident.cause_root is None and incident.symptoms == []
    assert incident.root.kind == "Deployment" and incident.root.reason == "CrashLoopBackOff"
    _, update = update_ledger(loaded, crashing, now=NOW)
    assert finding.fingerprint in {i.fingerprint for i in update.recurring}
    assert Ledger().cycle == 0


def test_a_report_with_incidents_by_status_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "cycle-old.json"
    path.write_text(
        json.dumps(
            {
                "cycle": 3,
                "cluster": "c",
                "mode": "stateless",
                "session_id": "s",
                "started_at": "2024-05-14T10:00:00Z",
                "incidents": {"new": [{"fingerprint": "a", "reason": "R"}], "resolved": []},
            }
        )
    )
    report = read_report(path)
    assert report.incidents == []
    assert report.incident_changes["new"][0].fingerprint == "a"
