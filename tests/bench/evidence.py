"""Benchmark: what the evidence and cause stages cost a cycle on a generated cluster.

    python -m tests.bench.evidence --pods 10000 --failing 200 --repeat 3

One simulator serves a cluster of ``--pods`` pods of which about ``--failing`` are unhealthy
(crash loops, image pulls, pending, plus the pods of its NotReady nodes). Each repetition runs
the deterministic part of a cycle twice, alternately: the baseline (collect -> analyze ->
remember) and the same with evidence and causes between analyze and remember, reads going
through ``ClusterLookup`` to the simulator. Every finding is new (empty ledger) and so is every
object (a fresh collector, nothing carried over): the worst case, a first cycle.
Medians are quoted. Prints one JSON object; exits 1 when a target is missed:

- extra API requests per investigated finding <= 2 (``--max-requests-per-finding``);
- extra cycle wall time (the evidence and cause stages' own time) <= 20 % of the baseline
  cycle (``--max-overhead``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _quiet() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--failing", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-requests-per-finding", type=float, default=2.0)
    parser.add_argument("--max-overhead", type=float, default=0.20)
    args = parser.parse_args(argv)
    _quiet()

    from k8s_monitor.analysis.causes import group_by_root_cause, link_causes
    from k8s_monitor.analysis.incidents import Ledger
    from k8s_monitor.analysis.ledger import update_ledger
    from k8s_monitor.analysis.rules import analyze
    from k8s_monitor.cluster.collect import CollectOptions, Collector
    from k8s_monitor.cluster.kubeconfig import load_api_client
    from k8s_monitor.cluster.lookup import ClusterLookup
    from k8s_monitor.config import Settings
    from k8s_monitor.investigate import gather_evidence
    from k8s_monitor.investigate.reads import LookupReads
    from k8s_monitor.redaction import Redactor
    from k8s_monitor.sim import SimServer, generated_cluster

    every = max(1, args.pods // max(1, args.failing))
    cluster = generated_cluster(pods=args.pods, unhealthy_every=every)
    redactor = Redactor()
    with tempfile.TemporaryDirectory() as tmp, SimServer(cluster) as sim:
        settings = Settings(
            kubeconfig=sim.write_kubeconfig(Path(tmp) / "kubeconfig"),
            collect_timeout_seconds=300,
            _env_file=None,
        )
        lookup = ClusterLookup(load_api_client(settings), redactor)
        reads = LookupReads(lookup)

        def cycle(with_evidence: bool) -> dict[str, Any]:
            # Every finding is new, so every object is too: a first cycle's collection, with
            # nothing carried over from the previous one.
            collector = Collector(
                load_api_client(settings), CollectOptions.from_settings(settings), redactor
            )
            now = datetime.now(UTC)
            start = time.perf_counter()
            snapshot = collector.collect(now=now)
            findings = analyze(snapshot, now=now)
            stats: dict[str, Any] = {}
            if with_evidence:
                before = lookup.requests
                evidence_start = time.perf_counter()
                outcome = gather_evidence(
                    findings, snapshot, previous=Ledger(), reads=reads, now=now,
                    redact=redactor.redact,
                )  # fmt: skip
                findings = link_causes(outcome.findings, snapshot, now=now)
                stats = {
                    "evidence_s": time.perf_counter() - evidence_start,
                    "investigated": outcome.investigated,
                    "requests": lookup.requests - before,
                    "roots": len(group_by_root_cause(findings)),
                }
            update_ledger(Ledger(), findings, now=now)
            failing = sum(
                1
                for p in snapshot.pods
                if not any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
            )
            seconds = time.perf_counter() - start
            collector.close()
            return {
                "seconds": seconds,
                "findings": len(findings),
                "failing": failing,
                **stats,
            }

        cycle(False)  # warm the simulator's object cache for both sides
        base_runs, evidence_runs = [], []
        for _ in range(args.repeat):
            base_runs.append(cycle(False))
            evidence_runs.append(cycle(True))
        lookup.close()

    base_s = statistics.median(r["seconds"] for r in base_runs)
    evidence_s = statistics.median(r["seconds"] for r in evidence_runs)
    last = evidence_runs[-1]
    per_finding = last["requests"] / max(1, last["investigated"])
    stage_s = statistics.median(r["evidence_s"] for r in evidence_runs)
    # The stage's own time against the baseline cycle: what it adds, measured directly (the
    # difference of two whole-cycle medians is reported too, but carries the collection's noise).
    overhead = stage_s / base_s
    result = {
        "pods": args.pods,
        "failing_pods": last["failing"],
        "findings": last["findings"],
        "investigated": last["investigated"],
        "root_causes": last["roots"],
        "requests": last["requests"],
        "requests_per_finding": round(per_finding, 3),
        "baseline_cycle_s": round(base_s, 3),
        "evidence_cycle_s": round(evidence_s, 3),
        "evidence_stage_s": round(stage_s, 4),
        "overhead_ratio": round(overhead, 3),
        "cycle_difference_ratio": round(evidence_s / base_s - 1.0, 3),
        "targets_met": per_finding <= args.max_requests_per_finding
        and overhead <= args.max_overhead,
    }
    print(json.dumps(result))
    if not result["targets_met"]:
        print(
            f"target missed: {per_finding:.2f} requests per finding (max"
            f" {args.max_requests_per_finding}), overhead {overhead:.1%} (max"
            f" {args.max_overhead:.0%})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
