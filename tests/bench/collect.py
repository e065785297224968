"""Benchmark: listing every pod of a generated cluster, ours against the slowest way and the floor.

    python -m tests.bench.collect --pods 10000
    python -m tests.bench.collect --pods 150000 --skip-baseline
    python -m tests.bench.collect --fast          # 2,000 pods, the form `make test` runs

Four sides, the same pages from one simulator in this process, each in a fresh subprocess:

- ``ours``: the collector (raw pages, read-ahead, msgspec into the compact structs, redaction);
- ``baseline``: the official client's models (``list_pod_for_all_namespaces``), one request;
- ``careful``: the official client with ``_preload_content=False`` and ``json.loads`` per page,
  what a careful user would write;
- ``floor``: the same pages fetched with a bare urllib3 pool and decoded by msgspec into the
  same structs, nothing else: the limit for Python.

Each child reports the wall time of the list and its peak RSS above its own RSS just before the
list (the interpreter and imports excluded); ``wait4``'s peak RSS of the whole child is kept too.
Each side runs ``--repeat`` times; medians are quoted. Target: ours <= 1.5x the floor's wall
time and <= 1.5x its peak RSS above baseline. Prints one JSON object; exits 1 on a missed target.
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
    before = _rss_kb("VmRSS")
    start = time.perf_counter()
    snapshot = collector.collect(now=datetime.now(UTC))
    seconds = time.perf_counter() - start
    collector.close()
    rss_above = _above_baseline(before)  # before the redaction probe reads the pages again
    return {
        "seconds": seconds,
        "pods": len(snapshot.pods),
        "gaps": len(snapshot.gaps),
        "rss_above_mb": rss_above,
        **_redaction_cost(load_api_client(settings), page_size),
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


def _rss_kb(field: str) -> int:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _above_baseline(before_kb: int) -> float:
    """Peak RSS (VmHWM) above the RSS just before the list, in MB."""
    return max(0, _rss_kb("VmHWM") - before_kb) / 1024


def _child_careful(kubeconfig: Path, page_size: int) -> dict[str, Any]:
    from kubernetes import client, config

    config.load_kube_config(config_file=str(kubeconfig))
    api = client.CoreV1Api()
    before = _rss_kb("VmRSS")
    start = time.perf_counter()
    items: list[Any] = []
    token = None
    while True:
        response = api.list_pod_for_all_namespaces(
            limit=page_size, _continue=token, _preload_content=False, _request_timeout=600
        )
        page = json.loads(response.data)
        items.extend(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "pods": len(items),
        "gaps": 0,
        "rss_above_mb": _above_baseline(before),
    }


def _child_floor(kubeconfig: Path, page_size: int) -> dict[str, Any]:
    import urllib.parse

    import msgspec
    import urllib3
    import yaml

    from k8s_monitor.cluster.pages import ListPage
    from k8s_monitor.cluster.snapshot import Pod

    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    pool = urllib3.PoolManager()
    decoder = msgspec.json.Decoder(ListPage[Pod])
    before = _rss_kb("VmRSS")
    start = time.perf_counter()
    pods: list[Pod] = []
    token = ""
    while True:
        query = urllib.parse.urlencode(
            {"limit": page_size, **({"continue": token} if token else {})}
        )
        response = pool.request("GET", f"{server}/api/v1/pods?{query}")
        page = decoder.decode(response.data)
        pods.extend(page.items or [])
        token = page.metadata.continue_
        if not token:
            break
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "pods": len(pods),
        "gaps": 0,
        "rss_above_mb": _above_baseline(before),
    }


def _child_baseline(kubeconfig: Path) -> dict[str, Any]:
    from kubernetes import client, config

    config.load_kube_config(config_file=str(kubeconfig))
    api = client.CoreV1Api()
    before = _rss_kb("VmRSS")
    start = time.perf_counter()
    pods = api.list_pod_for_all_namespaces(_request_timeout=600)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "pods": len(pods.items),
        "gaps": 0,
        "rss_above_mb": _above_baseline(before),
    }


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


FLOOR_RATIO = 1.5
# Redaction's steady-state share of collection time (issue: at most 10 %).
REDACTION_RATIO = 0.10
FAST_PODS = 2_000
_CHILDREN = {
    "ours": lambda args: _child_ours(args.kubeconfig, args.page_size),
    "baseline": lambda args: _child_baseline(args.kubeconfig),
    "careful": lambda args: _child_careful(args.kubeconfig, args.page_size),
    "floor": lambda args: _child_floor(args.kubeconfig, args.page_size),
}


def run(pods: int, *, nodes: int | None = None, page_size: int = 500, repeat: int = 1,
        skip_baseline: bool = False, skip_careful: bool = False,
        max_redaction_ratio: float = REDACTION_RATIO) -> dict[str, Any]:  # fmt: skip
    from k8s_monitor.sim import SimServer, generated_cluster

    with (
        tempfile.TemporaryDirectory() as tmp,
        SimServer(generated_cluster(pods=pods, nodes=nodes or max(1, pods // 30))) as sim,
    ):
        kubeconfig = sim.write_kubeconfig(Path(tmp) / "kubeconfig")
        _warm_up(sim.url, page_size)
        sides = ("ours", "floor") + (() if skip_careful else ("careful",))
        sides += () if skip_baseline else ("baseline",)
        # Interleaved, so a burst of load on a shared machine hits every side alike.
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(repeat):
            for side in sides:
                runs[side].append(_run_child(side, kubeconfig, page_size))
    measured = {side: _median(side_runs) for side, side_runs in runs.items()}
    ours = measured["ours"]
    if ours["pods"] != pods or ours["gaps"]:
        raise SystemExit(f"ours listed {ours['pods']} pods with {ours['gaps']} gaps")
    result: dict[str, Any] = {"pods": pods, "repeat": repeat}
    for side, values in measured.items():
        result[f"{side}_s"] = round(values["seconds"], 3)
        result[f"{side}_peak_rss_mb"] = round(values["peak_rss_mb"], 1)
        result[f"{side}_rss_above_baseline_mb"] = round(values["rss_above_mb"], 1)
    floor = measured["floor"]
    # Paired: each run of ours against the floor's run right after it, then the median, so a
    # burst of load on a shared machine does not decide the ratio.
    paired = [o["seconds"] / f["seconds"] for o, f in zip(runs["ours"], runs["floor"], strict=True)]
    result["ours_over_floor_time"] = round(statistics.median(paired), 3)
    result["ours_over_floor_rss"] = round(ours["rss_above_mb"] / max(floor["rss_above_mb"], 0.1), 3)
    if "careful" in measured:
        careful = measured["careful"]["seconds"]
        result["ours_over_careful_time"] = round(ours["seconds"] / careful, 3)
    if "baseline" in measured:
        base = measured["baseline"]
        result["speedup"] = round(base["seconds"] / ours["seconds"], 1)
        result["rss_ratio"] = round(base["peak_rss_mb"] / ours["peak_rss_mb"], 1)
    # Redaction's share of collection: the extra decode time it costs, over the collect. Steady
    # state (the target): the daemon's collector keeps one redactor across cycles.
    redaction_s = max(0.0, ours["decode_redacted_s"] - ours["decode_s"])
    first_s = max(0.0, ours["decode_redacted_first_s"] - ours["decode_s"])
    result["redaction_s"] = round(redaction_s, 3)
    result["redaction_ratio"] = round(redaction_s / ours["seconds"], 3)
    result["redaction_first_cycle_ratio"] = round(first_s / ours["seconds"], 3)
    result["redaction_target"] = max_redaction_ratio
    checks = {
        "time_within_1_5x_floor": result["ours_over_floor_time"] <= FLOOR_RATIO,
        "rss_within_1_5x_floor": result["ours_over_floor_rss"] <= FLOOR_RATIO,
        "redaction_within_target": result["redaction_ratio"] <= max_redaction_ratio,
    }
    result["targets"] = {**checks, "all_met": all(checks.values())}
    return result


def fast() -> dict[str, Any]:
    """The form `make test` runs: the target (ours against the floor) on 2,000 pods.

    Redaction is bounded by the whole collection here, not by its 10 % target: at this size it
    takes milliseconds, too few to hold a 10 % line without noise. The full form checks it.
    """
    return run(FAST_PODS, repeat=5, skip_baseline=True, skip_careful=True, max_redaction_ratio=1.0)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        **{
            key: statistics.median(r.get(key, 0.0) for r in runs)
            for key in ("decode_s", "decode_redacted_s", "decode_redacted_first_s")
        },
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "rss_above_mb": statistics.median(r["rss_above_mb"] for r in runs),
        "pods": runs[0]["pods"],
        "gaps": max(r["gaps"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=None, help="default: pods / 30")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--max-redaction-ratio", type=float, default=REDACTION_RATIO)
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"{FAST_PODS} pods, ours and the floor, 5 paired runs (CI)",
    )
    parser.add_argument("--child", choices=tuple(_CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(_CHILDREN[args.child](args)))
        return 0

    _quiet()  # stdout carries the one JSON object only
    if args.fast:
        result = fast()
    else:
        result = run(
            args.pods,
            nodes=args.nodes,
            page_size=args.page_size,
            repeat=args.repeat,
            skip_baseline=args.skip_baseline,
            max_redaction_ratio=args.max_redaction_ratio,
        )
    print(json.dumps(result))
    return 0 if result["targets"]["all_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
