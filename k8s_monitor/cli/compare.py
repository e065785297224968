"""``k8s-monitor compare --scenario NAME --cycles N``: conversation modes side by side.

Runs every conversation mode on the identical snapshot sequence of a simulated scenario, with
the configured provider (``LLM_PROVIDER``; offline gives zero-cost rows): ours (stateless,
persistent every cycle, persistent on change) and the naive baselines (the same renderer and
prompts, full state every cycle, no caching). ``--scenario changing-day`` is a 500-pod cluster
with background churn, collected every cycle, whose ledger is scored against its script.
Prints per mode: requests, model calls, token kinds, billed-equivalent tokens, USD, cache hit
rate, median latency, rejected requests. With a real provider this spends real tokens: the
naive baselines are deliberately expensive (``--no-seed`` skips them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from k8s_monitor.cli.render import print_json, print_table
from k8s_monitor.config import LogFormat, LogLevel, load_settings

_COLUMNS = (
    "mode",
    "requests",
    "input_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "output_tokens",
    "billed_equivalent_tokens",
    "cost_usd",
    "latency_median_seconds",
    "rejected_requests",
    "max_context_tokens",
    "model_calls",
    "cache_hit_rate_median",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare stateless and persistent modes on a simulated scenario",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default="incident-day", metavar="NAME")
    parser.add_argument("--cycles", type=_positive, default=8, metavar="N")
    parser.add_argument(
        "--interval-minutes",
        type=float,
        default=None,
        help="simulated time between cycles (default: MONITORING_INTERVAL_MINUTES)",
    )
    parser.add_argument(
        "--no-seed", action="store_true", help="skip the naive baselines (saves tokens)"
    )
    parser.add_argument(
        "--raw-dump", action="store_true", help="add the seed's raw-dump baseline (an extra)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    from k8s_monitor.compare import DEFAULT_MODES, CompareOptions, Mode, run_compare
    from k8s_monitor.logs import configure_logging
    from k8s_monitor.redaction import Redactor

    settings = load_settings()
    configure_logging(
        LogLevel.WARNING.value,
        LogFormat.CONSOLE,
        redact=Redactor.from_settings(settings).redact,
        stream=sys.stderr,
    )
    interval = args.interval_minutes or settings.monitoring_interval_minutes
    modes: tuple[Mode, ...] = DEFAULT_MODES
    if args.no_seed:
        modes = (Mode.STATELESS, Mode.PERSISTENT_EVERY_CYCLE, Mode.PERSISTENT)
    if args.raw_dump:
        modes = (*modes, Mode.RAW_DUMP)
    result = run_compare(
        settings,
        CompareOptions(
            scenario=args.scenario, cycles=args.cycles, interval_minutes=interval, modes=modes
        ),
    )
    if args.format == "json":
        print_json(result)
        return 0
    rows = [{"mode": mode, **values} for mode, values in result["modes"].items()]
    print_table(rows, _COLUMNS)
    print(
        f"\nscenario={result['scenario']} cycles={result['cycles']} "
        f"provider={result['provider']} model={result['model']}"
    )
    for name, ratio in result["ratios"].items():
        print(f"{name}: {ratio}")
    truth = result.get("ground_truth")
    if truth is not None:
        print(
            f"ground truth: ledger {truth['ledger_agreement']}, "
            f"offline report {truth['offline_report_agreement']} of {truth['cycles_scored']} cycles"
        )
    return 0
