"""Benchmark: tokens a simulated day costs in each conversation mode, against the seed's way.

    python -m tests.bench.tokens --cycles 96 --interval-minutes 15

Runs ``k8s_monitor.compare`` on the ``incident-day`` scenario with the real SDK against the
loopback fake API (one fake per mode, its cache clock advanced by the interval each cycle), and
prints one JSON object: per mode (persistent, stateless, seed_persistent, seed_stateless) the
token kinds, billed-equivalent tokens, rejected requests, largest context; the ratios between
modes (same run, same snapshots); and whether the targets hold: persistent / seed_persistent
<= 0.15, no rejected request, no context above ``MAX_CONTEXT_TOKENS``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

import anthropic
import structlog

from k8s_monitor.compare import CompareOptions, Mode, run_compare
from k8s_monitor.config import Settings
from k8s_monitor.llm.accounting import load_price_table
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import AnthropicProvider, spend_limit_guard
from tests.fakes.anthropic_server import FakeAnthropic

TARGET_RATIO = 0.15
API_KEY = "bench-key"


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run(cycles: int, interval_minutes: float, scenario: str, model: str) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        llm_provider="anthropic",
        anthropic_api_key=API_KEY,
        anthropic_model=model,
        monitoring_interval_minutes=interval_minutes,
        llm_max_retries=0,
    )
    price = load_price_table().price(model)
    fakes: dict[Mode, FakeAnthropic] = {}

    def provider_for(mode: Mode) -> ModelProvider:
        fake = FakeAnthropic(
            api_key=API_KEY,
            context_window=price.context_window,
            min_cacheable_tokens=price.min_cacheable_tokens,
            record_bodies=False,
        ).serve()
        fakes[mode] = fake
        client = anthropic.Anthropic(
            api_key=API_KEY, base_url=fake.url, max_retries=0, middleware=[spend_limit_guard]
        )
        return AnthropicProvider(client, model=model, name="anthropic")

    def after_cycle(_cycle: int) -> None:
        for fake in fakes.values():
            fake.advance(interval_minutes * 60)

    started = time.perf_counter()
    try:
        result = run_compare(
            settings,
            CompareOptions(scenario=scenario, cycles=cycles, interval_minutes=interval_minutes),
            provider_factory=provider_for,
            after_cycle=after_cycle,
        )
        for mode, fake in fakes.items():
            # What the server refused, whether or not the client noticed.
            result["modes"][mode.value]["rejected_requests"] = fake.stats.rejected
    finally:
        for fake in fakes.values():
            fake.close()
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["ratio_persistent_vs_seed_persistent"] = result["ratios"][
        "persistent_vs_seed_persistent"
    ]
    result["targets"] = _targets(result, settings.max_context_tokens)
    return result


def _targets(result: dict[str, Any], max_context: int) -> dict[str, Any]:
    modes = result["modes"].values()
    ratio = result["ratio_persistent_vs_seed_persistent"]
    checks = {
        "ratio_at_most_0_15": ratio is not None and ratio <= TARGET_RATIO,
        "no_rejected_requests": all(m["rejected_requests"] == 0 for m in modes),
        "context_within_max": all(m["max_context_tokens"] <= max_context for m in modes),
    }
    return {**checks, "all_met": all(checks.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=96)
    parser.add_argument("--interval-minutes", type=float, default=15.0)
    parser.add_argument("--scenario", default="incident-day")
    parser.add_argument("--model", default="claude-haiku-5-5")
    args = parser.parse_args(argv)
    _quiet()
    result = run(args.cycles, args.interval_minutes, args.scenario, args.model)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if result["targets"]["all_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
