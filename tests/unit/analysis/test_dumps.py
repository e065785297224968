"""The rules against realistic kubectl dumps (tests/data), labelled in tests/data/expected.json.

Each dump lists the (subject, reason) pairs an SRE expects, healthy objects that must never be
part of a critical finding, and objects that must not appear in any finding at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.cli.analyze import findings_from_file

DATA = Path(__file__).resolve().parents[2] / "data"
EXPECTED: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text())


def _findings(name: str) -> list[Finding]:
    now = datetime.fromisoformat(EXPECTED[name]["now"].replace("Z", "+00:00"))
    return findings_from_file(DATA / name, now=now)


def _touches(finding: Finding, ref: list[str]) -> bool:
    return any([o.kind, o.namespace, o.name] == ref for o in (finding.subject, *finding.objects))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_expected_finding_is_reported(name: str) -> None:
    got = {(f.subject.kind, f.subject.namespace, f.subject.name, f.reason) for f in _findings(name)}
    missing = [tuple(e) for e in EXPECTED[name]["findings"] if tuple(e) not in got]
    assert missing == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_unexpected_findings(name: str) -> None:
    expected = {tuple(e) for e in EXPECTED[name]["findings"]}
    got = {(f.subject.kind, f.subject.namespace, f.subject.name, f.reason) for f in _findings(name)}
    assert got - expected == set()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_healthy_objects_are_never_critical(name: str) -> None:
    findings = _findings(name)
    for ref in EXPECTED[name]["healthy"]:
        assert not [f for f in findings if f.severity is Severity.CRITICAL and _touches(f, ref)], (
            ref
        )
    for ref in EXPECTED[name]["absent"]:
        assert not [f for f in findings if _touches(f, ref)], ref


def test_recall_over_all_dumps_is_complete() -> None:
    expected = sum(len(e["findings"]) for e in EXPECTED.values())
    found = 0
    for name, entry in EXPECTED.items():
        got = {
            (f.subject.kind, f.subject.namespace, f.subject.name, f.reason) for f in _findings(name)
        }
        found += sum(tuple(e) in got for e in entry["findings"])
    assert expected >= 40  # the labelled set is not silently trimmed
    assert found / expected >= 0.95


def test_findings_are_json_serialisable_and_deterministic() -> None:
    for name in EXPECTED:
        first = [f.to_json() for f in _findings(name)]
        second = [f.to_json() for f in _findings(name)]
        assert first == second
        json.dumps(msgspec.to_builtins(first))
