"""``k8s-monitor compare --scenario NAME --cycles N``: conversation modes side by side.

Runs stateless and persistent conversations on the identical snapshot sequence of a simulated
scenario, with the configured provider (``LLM_PROVIDER``; offline gives zero-cost rows), plus
the seed-style baselines (full history, no prompt caching, the whole cluster dump every cycle).
Prints per mode: requests, token kinds, billed-equivalent tokens, USD, median latency, rejected
requests and how often the model's new / recurring / resolved incidents agree with the ledger.
With a real provider this spends real tokens: the seed baselines are deliberately expensive.
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
    "ledger_agreement",
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
        "--no-seed", action="store_true", help="skip the seed-style baselines (saves tokens)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    from k8s_monitor.compare import CompareOptions, Mode, run_compare
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
    modes = (Mode.PERSISTENT, Mode.STATELESS) if args.no_seed else tuple(Mode)
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
    return 0
