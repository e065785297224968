"""An API that keeps missing the prompt cache: reports and the metric show it, nothing fails."""

from __future__ import annotations

from k8s_monitor.analysis.ledger import LedgerStore
from k8s_monitor.analysis.services import load_catalog
from k8s_monitor.converse import build_conversation
from k8s_monitor.cycle.runner import CycleRunner
from k8s_monitor.cycle.stages import CycleStages
from k8s_monitor.metrics import Metrics
from k8s_monitor.report import Outcome
from k8s_monitor.sessions import SessionManager
from tests.unit.test_cycle import RecordingNotifier, ScriptedSource


def _gauge(metrics: Metrics) -> float:
    for line in metrics.render().decode().splitlines():
        if line.startswith("k8s_monitor_llm_cache_hit_ratio "):
            return float(line.split()[1])
    raise AssertionError("k8s_monitor_llm_cache_hit_ratio not exported")


def test_cache_misses_show_in_reports_and_the_metric_without_failing(
    fake, make_settings, make_provider, tmp_path
):
    settings = make_settings(llm_call_policy="every-cycle")
    sessions = SessionManager.from_settings(settings)
    metrics = Metrics()
    stages = CycleStages(
        settings=settings,
        source=ScriptedSource(down=range(1, 100)),
        catalog=load_catalog(None),
        ledger_store=LedgerStore(tmp_path / "ledger.json"),
        conversation=build_conversation(settings, sessions, provider=make_provider()),
        notifier=RecordingNotifier(),
        metrics=metrics,
    )
    runner = CycleRunner(stages)
    warm = [runner.run() for _ in range(4)]
    assert warm[-1].cache_hit_rate is not None and warm[-1].cache_hit_rate > 0.5
    assert _gauge(metrics) == warm[-1].cache_hit_rate
    fake.miss_cache = True
    cold = [runner.run() for _ in range(3)]
    for report in cold:
        assert report.outcome is not Outcome.FAILED
        assert report.analysis_source == "model"
        assert report.cache_hit_rate == 0.0
        assert report.usage.cache_read_tokens == 0
    assert _gauge(metrics) == 0.0
    runner_reports = [*warm, *cold]
    assert [r.llm_call for r in runner_reports] == ["every-cycle"] * 7
