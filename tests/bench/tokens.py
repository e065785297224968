"""Benchmark: what a changing day costs in each conversation mode, against fair baselines.

    python -m tests.bench.tokens --cycles 96 --interval-minutes 15     # full form (make bench)
    python -m tests.bench.tokens --fast                                # 24 cycles (make test)

Runs ``k8s_monitor.compare`` on the ``changing-day`` scenario: a ~500-pod simulated cluster with
background churn (rollouts, scale events, events streaming) and the incident-day faults on top,
collected through the real collector every cycle. Every mode talks to its own loopback fake of
the API with the real SDK (the fake's cache clock advanced by the interval each cycle). Prints
one JSON object: per mode (naive_persistent, naive_stateless, stateless, persistent_every_cycle,
persistent_on_change, stateless_on_change; ``--raw-dump`` adds the seed's raw-dump baseline as a
labelled extra) the token kinds, billed-equivalent tokens, requests, dollars, cache hit rate;
the ratios between all modes (same run, same snapshots); the ledger's and the offline report's
agreement with the scenario's scripted truth; and whether the targets hold.
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

from k8s_monitor.compare import DEFAULT_MODES, CompareOptions, Mode, run_compare
from k8s_monitor.config import Settings
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import AnthropicProvider, spend_limit_guard
from k8s_monitor.sim.churn import CHANGING_DAY
from tests.fakes.anthropic_server import FakeAnthropic

ON_CHANGE_VS_EVERY_CYCLE = 0.25
ON_CHANGE_VS_NAIVE_PERSISTENT = 0.15
ON_CHANGE_VS_STATELESS = 1.0
API_KEY = "bench-key"
FAST_CYCLES = 24
DAY_CYCLES = 96
# The fast form runs six hours of the same day, cycles 13-36: one whole incident (the crash loop
# starts at cycle 20 and is healed at 35) and a heartbeat, so every target is exercised.
FAST_FIRST_CYCLE = 13


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run(
    cycles: int,
    interval_minutes: float,
    *,
    model: str = "claude-haiku-5-5",
    pods: int = 500,
    raw_dump: bool = False,
    first_cycle: int = 1,
    day_cycles: int | None = None,
) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        llm_provider="anthropic",
        anthropic_api_key=API_KEY,
        anthropic_model=model,
        monitoring_interval_minutes=interval_minutes,
        llm_max_retries=0,
    )
    fakes: dict[Mode, FakeAnthropic] = {}

    def provider_for(mode: Mode) -> ModelProvider:
        # The fake applies the model's own context window and minimum cacheable length.
        fake = FakeAnthropic(api_key=API_KEY, record_bodies=False).serve()
        fakes[mode] = fake
        client = anthropic.Anthropic(
            api_key=API_KEY, base_url=fake.url, max_retries=0, middleware=[spend_limit_guard]
        )
        return AnthropicProvider(client, model=model, name="anthropic")

    def after_cycle(_cycle: int) -> None:
        for fake in fakes.values():
            fake.advance(interval_minutes * 60)

    modes = (*DEFAULT_MODES, Mode.RAW_DUMP) if raw_dump else DEFAULT_MODES
    started = time.perf_counter()
    try:
        result = run_compare(
            settings,
            CompareOptions(
                scenario=CHANGING_DAY,
                cycles=cycles,
                interval_minutes=interval_minutes,
                modes=modes,
                pods=pods,
                first_cycle=first_cycle,
                day_cycles=day_cycles,
            ),
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
    result["targets"] = targets(result, settings.max_context_tokens)
    return result


def targets(result: dict[str, Any], max_context: int) -> dict[str, Any]:
    modes = result["modes"]
    ratios = result["ratios"]
    on_change = modes[Mode.PERSISTENT.value]

    def at_most(name: str, limit: float) -> bool:
        value = ratios.get(name)
        return value is not None and value <= limit

    checks = {
        "on_change_at_most_0_25_of_every_cycle": at_most(
            "persistent_on_change_vs_persistent_every_cycle", ON_CHANGE_VS_EVERY_CYCLE
        ),
        "on_change_at_most_0_15_of_naive_persistent": at_most(
            "persistent_on_change_vs_naive_persistent", ON_CHANGE_VS_NAIVE_PERSISTENT
        ),
        "on_change_at_most_stateless": at_most(
            "persistent_on_change_vs_stateless", ON_CHANGE_VS_STATELESS
        ),
        "same_incidents_as_every_cycle": bool(on_change.get("same_incidents_as_every_cycle")),
        "urgent_changes_analysed_within_one_cycle": (
            on_change["urgent_changes"] > 0
            and on_change["urgent_analysed_within_one_cycle"] == on_change["urgent_changes"]
        ),
        "ledger_matches_ground_truth": result["ground_truth"]["ledger_agreement"] == 1.0,
        "offline_report_matches_ground_truth": (
            result["ground_truth"]["offline_report_agreement"] == 1.0
        ),
        "no_rejected_requests": all(m["rejected_requests"] == 0 for m in modes.values()),
        "context_within_max": all(m["max_context_tokens"] <= max_context for m in modes.values()),
    }
    return {**checks, "all_met": all(checks.values())}


def run_form(*, fast: bool, cycles: int = DAY_CYCLES, **kwargs: Any) -> dict[str, Any]:
    """The full form (``cycles`` of the day) or the fast one (a 24-cycle window of the day)."""
    interval = kwargs.pop("interval_minutes", 15.0)
    if fast:
        return run(
            FAST_CYCLES,
            interval,
            first_cycle=FAST_FIRST_CYCLE,
            day_cycles=DAY_CYCLES,
            **kwargs,
        )
    return run(cycles, interval, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=96)
    parser.add_argument("--interval-minutes", type=float, default=15.0)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--model", default="claude-haiku-5-5")
    parser.add_argument("--raw-dump", action="store_true", help="add the raw-dump extra")
    parser.add_argument("--fast", action="store_true", help=f"{FAST_CYCLES} cycles (CI)")
    args = parser.parse_args(argv)
    _quiet()
    result = run_form(
        fast=args.fast,
        cycles=args.cycles,
        interval_minutes=args.interval_minutes,
        model=args.model,
        pods=args.pods,
        raw_dump=args.raw_dump,
    )
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if result["targets"]["all_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
