"""The cycle's own failure paths: a blind monitor pages, recovers, and a disabled model alerts once.

Real analysis, ledger, escalation and conversation; only the cluster and the notification sink
are replaced, so what is asserted is the cycle's wiring of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from k8s_monitor.analysis.escalation import MODEL_DISABLED, MONITOR_BLIND, Escalation
from k8s_monitor.analysis.incidents import Incident
from k8s_monitor.analysis.ledger import LedgerStore
from k8s_monitor.analysis.services import load_catalog
from k8s_monitor.cluster.snapshot import ClusterSnapshot, snapshot_from_objects
from k8s_monitor.config import load_settings
from k8s_monitor.converse import ConverseInput, ConverseOutcome, build_conversation
from k8s_monitor.converse.answer import AnalysisSource, EscalationSuggestion
from k8s_monitor.cycle.runner import CycleRunner
from k8s_monitor.cycle.stages import CycleStages
from k8s_monitor.errors import ClusterUnreachableError
from k8s_monitor.notify import DispatchResult, NotificationContext
from k8s_monitor.report import Outcome
from k8s_monitor.sessions import SessionManager
from tests.unit.cluster.objects import node


class FlakySource:
    def __init__(self) -> None:
        self.down = False
        self.reason = "connection refused"

    def collect(self, *, now: datetime, since: datetime | None) -> ClusterSnapshot:
        if self.down:
            raise ClusterUnreachableError(self.reason)
        return ClusterSnapshot(cluster="c", collected_at=now)


@dataclass
class RecordingNotifier:
    calls: list[tuple[list[Escalation], list[Incident]]] = field(default_factory=list)

    def dispatch(
        self,
        escalations: list[Escalation],
        *,
        resolved: list[Incident],
        context: NotificationContext,
        early: bool = False,
    ) -> DispatchResult:
        self.calls.append((escalations, resolved))
        return DispatchResult()

    def reasons(self) -> list[str]:
        return [e.incident.finding.reason for escalations, _ in self.calls for e in escalations]

    def resolved_reasons(self) -> list[str]:
        return [i.finding.reason for _, resolved in self.calls for i in resolved]


def _runner(
    tmp_path: Path, conversation: Any = None, heartbeat: Any = None
) -> tuple[CycleRunner, FlakySource, RecordingNotifier]:
    settings = load_settings(
        session_dir=tmp_path / "s",
        report_dir=tmp_path / "r",
        blind_after_failures=2,
        llm_provider="offline",
    )
    source, notifier = FlakySource(), RecordingNotifier()
    stages = CycleStages(
        settings=settings,
        source=source,
        catalog=load_catalog(None),
        ledger_store=LedgerStore(tmp_path / "ledger.json"),
        conversation=conversation or build_conversation(settings, SessionManager(tmp_path / "s")),
        notifier=notifier,
        heartbeat=heartbeat,
    )
    return CycleRunner(stages), source, notifier


def test_blind_after_n_failures_then_resolved_on_recovery(tmp_path: Path) -> None:
    runner, source, notifier = _runner(tmp_path)
    source.down = True
    first = runner.run()
    assert first.outcome is Outcome.FAILED and "ClusterUnreachableError" in (first.error or "")
    assert MONITOR_BLIND not in notifier.reasons(), "one failure is not yet blindness"
    second = runner.run()
    assert notifier.reasons().count(MONITOR_BLIND) == 1
    assert second.escalations and second.escalations[0].reason == MONITOR_BLIND
    source.down = False
    recovered = runner.run()
    assert recovered.outcome is not Outcome.FAILED
    assert MONITOR_BLIND in notifier.resolved_reasons()
    assert runner.consecutive_failures == 0


def test_failed_collection_does_not_touch_the_ledger(tmp_path: Path) -> None:
    runner, source, _ = _runner(tmp_path)
    runner.run()
    source.down = True
    runner.run()
    assert LedgerStore(tmp_path / "ledger.json").load().cycle == 1


class DisablingConversation:
    """Reports the provider disabled on its first cycle, as the real one does on a spend limit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cycles = 0

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        outcome = self.inner.converse(data)
        self.cycles += 1
        outcome.source = AnalysisSource.FALLBACK
        outcome.alert = "ModelFatalError: spend limit reached" if self.cycles == 1 else None
        return outcome

    def close(self) -> None:
        self.inner.close()


def test_a_disabled_model_alerts_once(tmp_path: Path) -> None:
    settings = load_settings(session_dir=tmp_path / "s", llm_provider="offline")
    inner = build_conversation(settings, SessionManager(tmp_path / "s"))
    runner, _, notifier = _runner(tmp_path, DisablingConversation(inner))
    report = runner.run()
    runner.run()
    assert notifier.reasons().count(MODEL_DISABLED) == 1
    assert any(e.reason == MODEL_DISABLED for e in report.escalations)
    assert report.started_at.tzinfo is UTC


def test_an_error_carrying_a_secret_is_redacted_in_the_report(tmp_path: Path) -> None:
    runner, source, _ = _runner(tmp_path)
    source.down = True
    source.reason = "proxy https://ops:Pr0xyPassw0rd@proxy.internal:3128 refused"
    report = runner.run()
    assert report.outcome is Outcome.FAILED
    assert report.error and "Pr0xyPassw0rd" not in report.error
    assert "[REDACTED:" in report.error
    written = next((tmp_path / "r").glob("cycle-*.json")).read_text()
    assert "Pr0xyPassw0rd" not in written


@dataclass
class RecordingBeat:
    beats: list[bool] = field(default_factory=list)

    def beat(self, ok: bool) -> None:
        self.beats.append(ok)


def test_heartbeat_after_every_cycle_fail_after_a_failed_one(tmp_path: Path) -> None:
    beat = RecordingBeat()
    runner, source, _ = _runner(tmp_path, heartbeat=beat)
    runner.run()
    source.down = True
    runner.run()
    source.down = False
    runner.run()
    assert beat.beats == [True, False, True]


def test_a_crashing_cycle_beats_fail(tmp_path: Path) -> None:
    beat = RecordingBeat()
    runner, source, _ = _runner(tmp_path, heartbeat=beat)

    def crash(*, now: datetime, since: datetime | None) -> ClusterSnapshot:
        raise RuntimeError("bug")

    source.collect = crash  # type: ignore[method-assign]
    report = runner.run()  # a bug fails the cycle, with a report: it is not raised further
    assert report.outcome is Outcome.FAILED and "RuntimeError" in (report.error or "")
    assert beat.beats == [False]


# --- LLM_CALL_POLICY: the model is asked on change and on the heartbeat -----------------------


class CountingConversation:
    """Records what each asked cycle carried; answers offline."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.mode = inner.mode
        self.asked: list[ConverseInput] = []

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        self.asked.append(data)
        return self.inner.converse(data)

    def close(self) -> None:
        self.inner.close()


class ScriptedSource:
    """A healthy cluster, with node-1 NotReady during the cycles in ``down``."""

    def __init__(self, down: range) -> None:
        self.down = down
        self.cycle = 0

    def collect(self, *, now: datetime, since: datetime | None) -> ClusterSnapshot:
        self.cycle += 1
        ready = "False" if self.cycle in self.down else "True"
        return snapshot_from_objects([node("node-1", ready=ready)], cluster="c", collected_at=now)


def _policy_runner(
    tmp_path: Path, source: Any, **settings_overrides: Any
) -> tuple[CycleRunner, CountingConversation, RecordingNotifier]:
    settings = load_settings(
        session_dir=tmp_path / "s",
        report_dir=tmp_path / "r",
        llm_provider="offline",
        enable_long_context=True,
        **settings_overrides,
    )
    conversation = CountingConversation(
        build_conversation(settings, SessionManager(tmp_path / "s"))
    )
    notifier = RecordingNotifier()
    stages = CycleStages(
        settings=settings,
        source=source,
        catalog=load_catalog(None),
        ledger_store=LedgerStore(tmp_path / "ledger.json"),
        conversation=conversation,
        notifier=notifier,
    )
    return CycleRunner(stages), conversation, notifier


def test_on_change_asks_on_changes_and_heartbeats_and_folds_quiet_cycles(tmp_path: Path) -> None:
    runner, conversation, notifier = _policy_runner(
        tmp_path, ScriptedSource(down=range(6, 9)), llm_heartbeat_cycles=4
    )
    reports = [runner.run() for _ in range(14)]
    asked = [data.cycle for data in conversation.asked]
    # 1 first; 5 heartbeat; 6 node down (new); 9 resolved; 13 heartbeat. The rest are quiet.
    assert asked == [1, 5, 6, 9, 13]
    by_cycle = {r.cycle: r for r in reports}
    assert by_cycle[6].llm_call == "new" and by_cycle[9].llm_call == "resolved"
    assert by_cycle[7].llm_call == "quiet" and by_cycle[7].analysis_source == "quiet"
    # Quiet cycles still run everything else: the ledger keeps the incident open, the report
    # carries the deterministic analysis.
    assert by_cycle[7].incident_changes["recurring"] and by_cycle[7].overall_health == "critical"
    assert by_cycle[7].summary
    assert "NodeNotReady" in notifier.reasons()
    folded = {data.cycle: data.quiet_cycles for data in conversation.asked}
    assert folded[5] == (2, 4) and folded[6] is None and folded[9] == (7, 8)
    session = SessionManager(tmp_path / "s").load_session("k8s-monitor-default")
    assert session is not None
    user_turns = [m["content"] for m in session["conversation_history"] if m["role"] == "user"]
    assert len(user_turns) == 5
    assert "cycles 7-8 quiet, no change" in user_turns[3]


def test_every_cycle_asks_every_cycle(tmp_path: Path) -> None:
    runner, conversation, _ = _policy_runner(
        tmp_path, ScriptedSource(down=range(0)), llm_call_policy="every-cycle"
    )
    for _ in range(5):
        runner.run()
    assert [data.cycle for data in conversation.asked] == [1, 2, 3, 4, 5]


class SuggestingConversation(CountingConversation):
    """Answers as the model would, raising every open incident to SEV-1."""

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        outcome = super().converse(data)
        raised = [
            {"fingerprint": i.fingerprint, "severity": "SEV-1", "reason": "customer facing"}
            for i in data.ledger_update.open
        ]
        outcome.analysis = outcome.analysis.model_copy(
            update={"escalations": [EscalationSuggestion(**r) for r in raised]}
        )
        outcome.source = AnalysisSource.MODEL
        return outcome


def test_a_quiet_cycle_keeps_the_models_last_severities(tmp_path: Path) -> None:
    runner, conversation, _ = _policy_runner(tmp_path, ScriptedSource(down=range(2, 10)))
    conversation.__class__ = SuggestingConversation
    reports = [runner.run() for _ in range(4)]
    assert [d.cycle for d in conversation.asked] == [1, 2]  # 3 and 4 are quiet
    asked, quiet = reports[1], reports[3]
    assert quiet.llm_call == "quiet"

    def severities(report: Any) -> dict[str, str]:
        return {e.reason: e.sev for e in report.escalations}

    assert severities(asked)["NodeNotReady"] == "SEV-1"
    assert severities(quiet) == severities(asked), "the model's word still holds"


class CrashingConversation:
    """A stage with a bug: anything but the typed errors the cycle expects."""

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        raise KeyError("a bug, not a typed error")


def test_an_unexpected_exception_fails_the_cycle_with_a_report_and_a_count(
    tmp_path: Path,
) -> None:
    from k8s_monitor.metrics import Metrics

    runner, _, _ = _runner(tmp_path, conversation=CrashingConversation())
    metrics = Metrics()
    runner._stages.metrics = metrics
    crashed = runner.run()
    assert crashed.outcome is Outcome.FAILED
    assert "KeyError" in (crashed.error or "")
    assert crashed.report_path and Path(crashed.report_path).exists(), "the cycle left a report"
    rendered = metrics.render().decode()
    assert 'k8s_monitor_cycles_total{outcome="failed"} 1.0' in rendered
    assert 'k8s_monitor_errors_total{stage="cycle",type="KeyError"} 1.0' in rendered
    assert runner.run().cycle == crashed.cycle + 1
