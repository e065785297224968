"""Benchmark: listing every pod of a generated cluster, ours versus the official client's models.

    python -m tests.bench.collect --pods 10000
    python -m tests.bench.collect --pods 150000 --skip-baseline

One simulator serves both sides from this process; each side runs in a fresh subprocess, whose
wall time for the list and peak RSS (from ``wait4``'s rusage of that child alone) are taken.
Each side runs ``--repeat`` times and medians are quoted. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _quiet() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _child_ours(kubeconfig: Path, page_size: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    _quiet()
    from k8s_monitor.cluster import resources as res
    from k8s_monitor.cluster.collect import CollectOptions, Collector
    from k8s_monitor.cluster.kubeconfig import load_api_client
    from k8s_monitor.config import Settings
    from k8s_monitor.redaction import Redactor

    settings = Settings(kubeconfig=kubeconfig, collect_timeout_seconds=300, _env_file=None)
    options = CollectOptions(
        page_size=page_size, timeout_seconds=300, resources=(res.PODS,), log_tail_max_containers=0
    )
    collector = Collector(load_api_client(settings), options, Redactor())
    start = time.perf_counter()
    snapshot = collector.collect(now=datetime.now(UTC))
    seconds = time.perf_counter() - start
    collector.close()
    redaction = _redaction_cost(load_api_client(settings), page_size)
    return {
        "seconds": seconds,
        "pods": len(snapshot.pods),
        "gaps": len(snapshot.gaps),
        **redaction,
    }


def _redaction_cost(api_client: Any, page_size: int) -> dict[str, float]:
    """Decoding the same pages with and without the redaction boundary, medians of three.

    The pages are read once and kept, so both sides decode the very same bytes; each redacting
    pass gets a fresh :class:`Redactor`, whose memo starts cold as on a daemon's first cycle.
    """
    from k8s_monitor.cluster import resources as res
    from k8s_monitor.cluster.pages import decode_page
    from k8s_monitor.cluster.sanitize import sanitize
    from k8s_monitor.cluster.transport import Transport
    from k8s_monitor.redaction import Redactor

    transport = Transport(api_client, 300)
    pages: list[bytes] = []
    token = ""
    while True:
        query = [("limit", str(page_size))] + ([("continue", token)] if token else [])
        body = transport.get(res.PODS.path(None), query).body
        pages.append(body)
        token = decode_page(body, res.PODS.struct).metadata.continue_
        if not token:
            break

    def decode(redactor: Redactor | None) -> float:
        start = time.perf_counter()
        for body in pages:
            for item in decode_page(body, res.PODS.struct).items or ():
                if redactor is not None:
                    sanitize(item, redactor)
        return time.perf_counter() - start

    plain, cold, warm = [], [], []
    for _ in range(3):
        plain.append(decode(None))
        redactor = Redactor()
        cold.append(decode(redactor))  # the first cycle: nothing remembered yet
        warm.append(decode(redactor))  # every later cycle: the collector keeps its redactor
    return {
        "decode_s": statistics.median(plain),
        "decode_redacted_s": statistics.median(warm),
        "decode_redacted_first_s": statistics.median(cold),
    }


def _child_baseline(kubeconfig: Path) -> dict[str, Any]:
    from kubernetes import client, config

    config.load_kube_config(config_file=str(kubeconfig))
    api = client.CoreV1Api()
    start = time.perf_counter()
    pods = api.list_pod_for_all_namespaces(_request_timeout=600)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pods": len(pods.items), "gaps": 0}


def _run_child(side: str, kubeconfig: Path, page_size: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "tests.bench.collect", "--child", side,
            "--kubeconfig", str(kubeconfig), "--page-size", str(page_size)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{side} child failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def _median_side(side: str, kubeconfig: Path, page_size: int, repeat: int) -> dict[str, Any]:
    runs = [_run_child(side, kubeconfig, page_size) for _ in range(repeat)]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "decode_s": statistics.median(r.get("decode_s", 0.0) for r in runs),
        "decode_redacted_s": statistics.median(r.get("decode_redacted_s", 0.0) for r in runs),
        "decode_redacted_first_s": statistics.median(
            r.get("decode_redacted_first_s", 0.0) for r in runs
        ),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "pods": runs[0]["pods"],
        "gaps": max(r["gaps"] for r in runs),
    }


def _warm_up(url: str, page_size: int) -> None:
    """Page through the pods once, so neither side pays the simulator's first-render cost."""
    import urllib.parse
    import urllib.request

    token = ""
    while True:
        query = urllib.parse.urlencode(
            {"limit": page_size, **({"continue": token} if token else {})}
        )
        with urllib.request.urlopen(f"{url}/api/v1/pods?{query}") as response:  # loopback only
            token = json.loads(response.read())["metadata"].get("continue", "")
        if not token:
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=None, help="default: pods / 30")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--max-redaction-ratio", type=float, default=0.10)
    parser.add_argument("--child", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "ours":
        print(json.dumps(_child_ours(args.kubeconfig, args.page_size)))
        return
    if args.child == "baseline":
        print(json.dumps(_child_baseline(args.kubeconfig)))
        return

    _quiet()  # stdout carries the one JSON object only
    from k8s_monitor.sim import SimServer, generated_cluster

    nodes = args.nodes or max(1, args.pods // 30)
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimServer(generated_cluster(pods=args.pods, nodes=nodes)) as sim,
    ):
        kubeconfig = sim.write_kubeconfig(Path(tmp) / "kubeconfig")
        _warm_up(sim.url, args.page_size)
        ours = _median_side("ours", kubeconfig, args.page_size, args.repeat)
        if ours["pods"] != args.pods or ours["gaps"]:
            raise SystemExit(f"ours listed {ours['pods']} pods with {ours['gaps']} gaps")
        # Redaction's share of collection: the extra decode time it costs, over the collect.
        # Steady state (the target): the daemon's collector keeps one redactor across cycles.
        redaction_s = max(0.0, ours["decode_redacted_s"] - ours["decode_s"])
        first_s = max(0.0, ours["decode_redacted_first_s"] - ours["decode_s"])
        result: dict[str, Any] = {
            "pods": args.pods,
            "ours_s": round(ours["seconds"], 3),
            "decode_s": round(ours["decode_s"], 3),
            "decode_redacted_s": round(ours["decode_redacted_s"], 3),
            "redaction_s": round(redaction_s, 3),
            "redaction_ratio": round(redaction_s / ours["seconds"], 3),
            "decode_redacted_first_s": round(ours["decode_redacted_first_s"], 3),
            "redaction_first_cycle_ratio": round(first_s / ours["seconds"], 3),
            "redaction_target": args.max_redaction_ratio,
            "ours_peak_rss_mb": round(ours["peak_rss_mb"], 1),
            "baseline_s": None,
            "baseline_peak_rss_mb": None,
            "speedup": None,
            "rss_ratio": None,
        }
        if not args.skip_baseline:
            base = _median_side("baseline", kubeconfig, args.page_size, args.repeat)
            result.update(
                baseline_s=round(base["seconds"], 3),
                baseline_peak_rss_mb=round(base["peak_rss_mb"], 1),
                speedup=round(base["seconds"] / ours["seconds"], 1),
                rss_ratio=round(base["peak_rss_mb"] / ours["peak_rss_mb"], 1),
            )
    print(json.dumps(result))
    if result["redaction_ratio"] > args.max_redaction_ratio:
        raise SystemExit(
            f"redaction costs {result['redaction_ratio']:.1%} of collection time, "
            f"over the {args.max_redaction_ratio:.0%} target"
        )


if __name__ == "__main__":
    main()
