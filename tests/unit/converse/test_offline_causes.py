"""The offline analysis names the root cause, not only the loudest symptom."""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace

from k8s_monitor.analysis.findings import CauseRef, Severity
from k8s_monitor.config import Settings
from k8s_monitor.converse import build_conversation
from tests.builders import finding
from tests.unit.llm.helpers import CycleFeed, FileSessions


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        llm_provider="offline",
        session_dir=tmp_path,
        report_dir=tmp_path / "reports",
    )


def test_offline_summary_and_actions_lead_with_the_root_cause(tmp_path: Path) -> None:
    secret = CauseRef(kind="Secret", namespace="shop", name="db-creds", reason="NotFound")
    broken = [
        replace(finding(name, Severity.CRITICAL), caused_by=secret) for name in ("api", "worker")
    ]
    conversation = build_conversation(_settings(tmp_path), FileSessions(tmp_path))
    outcome = conversation.converse(CycleFeed().next([*broken, finding("web")]))
    summary = outcome.analysis.summary
    assert "caused by Secret/shop/db-creds (NotFound)" in summary
    assert "Root cause: NotFound on Secret/shop/db-creds" in summary
    assert "explains 2 other findings" in summary
    first = outcome.analysis.recommended_actions[0]
    assert first.startswith("Investigate Secret/shop/db-creds (NotFound), the cause of")
    assert "and 1 more finding(s)" in first
