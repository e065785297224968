"""Command line: ``k8s-monitor run | once | demo | simulate | analyze | sessions | compare |
ask | mcp``.

Each subcommand lives in its own module exposing ``register(subparsers)``; the parser it adds sets
``handler`` to a function ``(argparse.Namespace) -> int``. Configuration errors end here, as one
line on stderr and exit code 2, whichever command raised them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from k8s_monitor import __version__
from k8s_monitor.errors import ConfigurationError

EXIT_CONFIG = 2

# Imported by name so that a command's heavy dependencies load only when that command runs.
_COMMAND_MODULES = ("run", "simulate", "analyze", "sessions", "compare", "ask", "mcp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="k8s-monitor",
        description="Watch a Kubernetes cluster, analyse it with Claude, and remember.",
    )
    parser.add_argument("--version", action="version", version=f"k8s-monitor {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"k8s_monitor.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        print(f"k8s-monitor: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
