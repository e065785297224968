"""``k8s-monitor simulate``: serve a simulated cluster until interrupted.

Serves a scenario (a shipped name such as ``incident-day`` or a YAML file) or, with ``--pods``, a
generated cluster, on a loopback Kubernetes API that kubectl and the daemon use through the
kubeconfig written with ``--write-kubeconfig``. The scenario advances one step every
``--step-seconds`` when given, and on ``POST /sim/advance``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from k8s_monitor.config import LogFormat
from k8s_monitor.logs import configure_logging
from k8s_monitor.sim import SimServer, generated_cluster, load_scenario, shipped_scenarios
from k8s_monitor.sim.view import ClusterSource


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="serve a simulated cluster (scenario or generated) on a loopback API",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        default="incident-day",
        help=f"shipped name ({', '.join(shipped_scenarios())}) or a scenario YAML file",
    )
    parser.add_argument(
        "--pods", type=_non_negative, default=None, help="serve a generated cluster"
    )
    parser.add_argument(
        "--nodes", type=_positive, default=None, help="nodes of a generated cluster"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of a generated cluster")
    parser.add_argument(
        "--metrics", action="store_true", help="serve metrics.k8s.io for a generated cluster"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_non_negative, default=0, help="0 picks a free port")
    parser.add_argument("--tls", action="store_true", help="serve https with a throwaway CA")
    parser.add_argument("--token", default=None, help="accept only this bearer token")
    parser.add_argument("--write-kubeconfig", type=Path, default=None, metavar="PATH")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=None,
        metavar="S",
        help="advance one scenario step every S seconds",
    )
    parser.set_defaults(handler=run)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text}")
    return value


def build_source(args: argparse.Namespace) -> ClusterSource:
    if args.pods is not None:
        return generated_cluster(
            pods=args.pods, nodes=args.nodes, seed=args.seed, metrics=args.metrics
        )
    return load_scenario(args.scenario)


def run(args: argparse.Namespace) -> int:
    # stdout is for the URL and step lines people read; the server's own logs go to stderr.
    configure_logging("WARNING", LogFormat.CONSOLE, stream=sys.stderr)
    source = build_source(args)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with SimServer(
            source, host=args.host, port=args.port, tls=args.tls, token=args.token
        ) as server:
            print(f"simulated cluster {source.name!r} serving at {server.url}", flush=True)
            if args.write_kubeconfig is not None:
                path = server.write_kubeconfig(args.write_kubeconfig, token=args.token)
                print(f"kubeconfig written to {path} (context 'sim')", flush=True)
            _print_step(server)
            _serve(server, stop, args.step_seconds)
    except KeyboardInterrupt:
        print("interrupted, simulator stopped", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _serve(server: SimServer, stop: threading.Event, step_seconds: float | None) -> None:
    while not stop.is_set():
        if step_seconds is None or step_seconds <= 0:
            stop.wait(1.0)
            continue
        if stop.wait(step_seconds):
            return
        before = server.step
        if server.advance() != before:
            _print_step(server)


def _print_step(server: SimServer) -> None:
    print(
        f"step {server.step + 1}/{server.step_count}: {server.step_name}",
        flush=True,
    )
