"""The demo day (``k8s-monitor demo``: incident-day, persistent mode) with LLM_PROVIDER=bedrock.

Every cycle goes through the real SDK, botocore's SigV4 and the loopback Bedrock fake, on each
integration, and the same day runs on the Anthropic API fake as the baseline. The numbers the
issue asks for: no request rejected, every model request after the first reads the prompt
cache, as on the Anthropic day (token totals differ by a few percent between any two runs:
the cycle messages carry wall-clock ages).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from k8s_monitor.cli.run import DEMO_INTERVAL_SECONDS
from k8s_monitor.config import load_settings
from k8s_monitor.report import CycleReport
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.bedrock_server import FakeBedrock

KEY_ID, SECRET = "AKIAFAKEBEDROCKDAY01", "fake-secret-for-loopback-only"


def _day(root: Path, **model_settings: Any) -> list[CycleReport]:
    with SimServer(load_scenario("incident-day"), host="127.0.0.1", port=0) as sim:
        settings = load_settings(
            enable_long_context=True,
            session_id="bedrock-day",
            monitoring_interval_minutes=DEMO_INTERVAL_SECONDS / 60.0,
            kubeconfig=sim.write_kubeconfig(root / "kubeconfig", token="demo"),
            session_dir=root / "sessions",
            report_dir=root / "reports",
            cluster_name="demo-sim",
            metrics_port=0,
            **model_settings,
        )
        monitor = assemble(settings)
        reports = []
        try:
            for cycle in range(sim.step_count):
                if cycle:
                    sim.advance()
                reports.append(monitor.runner.run())
        finally:
            monitor.close()
    return reports


def _totals(reports: list[CycleReport]) -> dict[str, int]:
    fields = ("requests", "input_tokens", "cache_write_5m_tokens", "cache_read_tokens")
    return {name: sum(getattr(r.usage, name) for r in reports) for name in fields}


@pytest.mark.parametrize(
    ("api", "route"), [("messages", "/anthropic/v1/messages"), ("invoke", "/model/")]
)
def test_demo_day_on_bedrock_rejects_nothing_and_reads_the_cache_every_cycle(
    api: str, route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's prompts are smaller than haiku's documented cache minimum: lower it on both
    # fakes alike, so the day shows whether caching works, not whether prompts are big.
    with FakeAnthropic(api_key="test-key", min_cacheable_tokens=256) as direct:
        baseline = _day(
            tmp_path / "anthropic",
            llm_provider="anthropic",
            anthropic_api_key="test-key",
            anthropic_base_url=direct.url,
        )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    model = FakeAnthropic(api_key=None, min_cacheable_tokens=256)
    with FakeBedrock(credentials={KEY_ID: SECRET}, model=model) as bedrock:
        reports = _day(
            tmp_path / "bedrock",
            llm_provider="bedrock",
            bedrock_api=api,
            aws_region="us-east-1",
            anthropic_base_url=bedrock.url,
        )

    asked = [r for r in reports if r.usage.requests]
    model_paths = [r.path for r in bedrock.records if r.path.startswith(route)]
    numbers = {
        "api": api,
        "cycles": len(reports),
        "model_cycles": len(asked),
        "bedrock_requests": len(model_paths),
        "rejected": model.stats.rejected,
        "errors": bedrock.stats.errors,
        "cache_read_cycles_after_first": sum(1 for r in asked[1:] if r.usage.cache_read_tokens),
        "bedrock": _totals(reports),
        "anthropic_baseline": _totals(baseline),
    }
    print(json.dumps(numbers))
    assert len(asked) >= 3, numbers
    assert all(r.analysis_source == "model" for r in asked), numbers
    assert model.stats.rejected == 0 and bedrock.stats.errors == {}, numbers
    assert all(r.status == 200 for r in bedrock.records), numbers
    assert len(model_paths) == numbers["bedrock"]["requests"], numbers
    assert numbers["cache_read_cycles_after_first"] == len(asked) - 1, numbers
    base_asked = [r for r in baseline if r.usage.requests]
    assert len(base_asked) == len(asked), numbers
    assert all(r.usage.cache_read_tokens for r in base_asked[1:]), numbers
