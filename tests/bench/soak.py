"""Soak: ``python -m tests.bench.soak [--cycles 500 | --fast]`` (``--fast``: 100 cycles, CI).

Runs back-to-back persistent cycles in-process, exactly as the daemon's scheduler would call
them (``CycleRunner.run``), on the simulator (the small fault-suite scenario, one step further
each cycle) with the fake Anthropic API and the webhook receiver, and a MAX_CONTEXT_TOKENS small
enough that the session is pruned many times. The loopback servers run in a child process, so
the RSS and file descriptors measured are the monitor's own. Logging is configured as in the
pod (JSON, INFO) into /dev/null.

Prints one JSON object: ``cycles``, ``rss_start_mb`` (after the first cycle, warm),
``rss_end_mb``, ``rss_max_mb``, ``fds_start``, ``fds_end``, ``prunes``, ``session_bytes_max``,
``failed_cycles``, plus ``rss_drift_mb``, ``cycle_ms_median``, ``seconds`` and ``targets_met``.
Targets: RSS drift <= 10 MB, idle RSS <= 120 MB, file descriptors flat, session size bounded
(never above about 6 bytes per token of MAX_CONTEXT_TOKENS: the prune keeps it in budget).

The monitor runs as it would in the image: packages only the dev venv has (rich, which
structlog's console renderer picks up; kubernetes-validate, which the kubernetes client's
dynamic module imports when present, and jsonschema with it) are made unimportable first, so
the RSS measured is the pod's, not the dev tools'.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# Before anything imports them: None in sys.modules makes `import rich` raise ImportError,
# which is what the libraries that use them optionally expect when they are not installed.
DEV_ONLY_MODULES = ("rich", "kubernetes_validate")
for _name in DEV_ONLY_MODULES:
    sys.modules.setdefault(_name, None)  # type: ignore[assignment]

import structlog  # noqa: E402 - after the dev-only modules are blocked

from k8s_monitor.config import LogFormat, Settings, load_settings  # noqa: E402
from k8s_monitor.logs import configure_logging  # noqa: E402
from k8s_monitor.redaction import Redactor  # noqa: E402
from k8s_monitor.report import Outcome  # noqa: E402
from k8s_monitor.wiring import assemble  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SOAK_SETTINGS: dict[str, Any] = {
    "max_context_tokens": 30_000,
    "llm_max_output_tokens": 1_024,
    "cycle_message_max_tokens": 2_000,
    "monitoring_interval_minutes": 1.0,
    "report_retention": 50,
    # Every cycle a model turn: the session grows and is pruned as fast as it can.
    "llm_call_policy": "every-cycle",
}
FAST_CYCLES = 100
TARGET_DRIFT_MB = 10.0
TARGET_IDLE_RSS_MB = 120.0
# Bounded means the prune keeps the file within the token budget: about 4 characters a token,
# plus JSON and per-message metadata. A prune that stopped working crosses it within cycles;
# comparing quarters of a short run mistakes the first prune's sawtooth (and the tool turns of
# an investigation) for growth.
SESSION_BYTES_PER_TOKEN = 6


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def serve(directory: Path) -> None:
    """The loopback servers, in their own process so they do not count in the daemon's RSS."""
    from tests.faults.harness import rig  # the servers' process only: not in the daemon's RSS

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with rig(directory) as r:
        print(
            json.dumps(
                {
                    "kubeconfig": str(r.kubeconfig),
                    "sim_url": r.sim.url,
                    "steps": r.sim.step_count,
                    "overrides": {k: str(v) for k, v in r.overrides().items()},
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until the parent closes the pipe


def _start_servers(directory: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.soak", "--serve", str(directory)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    return child, json.loads(child.stdout.readline())


def _goto(sim_url: str, step: int) -> None:
    request = urllib.request.Request(f"{sim_url}/sim/goto?step={step}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def soak(cycles: int, root: Path) -> dict[str, Any]:
    child, info = _start_servers(root)
    try:
        overrides: dict[str, Any] = {**info["overrides"], **SOAK_SETTINGS}
        settings = load_settings(**overrides)
        with Path(os.devnull).open("w") as sink:
            configure_logging(
                "INFO", LogFormat.JSON, redact=Redactor.from_settings(settings).redact, stream=sink
            )
            result = _run(settings, cycles, info)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    return result


def _run(settings: Settings, cycles: int, info: dict[str, Any]) -> dict[str, Any]:
    monitor = assemble(settings)
    session_file = settings.session_dir / f"{settings.session_id}.json"
    sizes: list[int] = []
    durations: list[float] = []
    prunes = failed = 0
    rss_start = rss_max = 0.0
    fds_start = 0
    started = time.monotonic()
    try:
        for number in range(cycles):
            begin = time.perf_counter()
            report = monitor.runner.run()
            durations.append(time.perf_counter() - begin)
            _goto(info["sim_url"], (number + 1) % int(info["steps"]))
            prunes += int(report.pruned)
            failed += int(report.outcome is Outcome.FAILED)
            sizes.append(session_file.stat().st_size if session_file.exists() else 0)
            rss = rss_mb()
            rss_max = max(rss_max, rss)
            if number == 0:
                rss_start, fds_start = rss, open_fds()
        rss_end, fds_end = rss_mb(), open_fds()
    finally:
        monitor.close()
    seconds = time.monotonic() - started
    bounded = max(sizes, default=0) <= SESSION_BYTES_PER_TOKEN * settings.max_context_tokens
    drift = rss_end - rss_start
    return {
        "cycles": cycles,
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_max_mb": round(rss_max, 1),
        "fds_start": fds_start,
        "fds_end": fds_end,
        "prunes": prunes,
        "session_bytes_max": max(sizes) if sizes else 0,
        "failed_cycles": failed,
        "rss_drift_mb": round(drift, 1),
        "cycle_ms_median": round(statistics.median(durations) * 1000, 1) if durations else 0.0,
        "seconds": round(seconds, 1),
        "targets_met": {
            "rss_drift": drift <= TARGET_DRIFT_MB,
            "idle_rss": rss_end <= TARGET_IDLE_RSS_MB,
            "fds_flat": fds_end <= fds_start,
            "session_bounded": bounded,
            "pruned_several_times": prunes >= 3,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--fast", action="store_true", help=f"{FAST_CYCLES} cycles (CI)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    with tempfile.TemporaryDirectory(prefix="k8s-monitor-soak-") as tmp:
        result = soak(FAST_CYCLES if args.fast else args.cycles, Path(tmp))
    print(json.dumps(result))
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
