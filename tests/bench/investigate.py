"""Benchmark: investigations with tools over a simulated day, against the strict fake API.

    python -m tests.bench.investigate --cycles 96 --interval-minutes 15

Runs the whole daemon (``wiring.assemble``: collection, rules, ledger, conversation with the
tool loop, escalation, reports) in persistent mode on the ``incident-day`` scenario, served by
the simulated apiserver, with the real SDK against the loopback fake API scripted to call the
offered tools (``ToolScript``). The context budget is small so the session is pruned during
the day, and the daemon is restarted half-way. The same day runs again with
``INVESTIGATE=false`` as the baseline (it differs only in the tools), for the cost ratio.

Prints one JSON object: per-incident tool calls, billed-equivalent tokens and wall time of
investigations (medians and maxima), requests the fake rejected, tool calls on recurring
incidents whose evidence did not change, the largest tool output against its cap, prunes and
the restart, and whether the targets hold: <= 8 tool calls, <= 40k billed-equivalent tokens,
<= 30 s per investigated incident; 0 rejections; 0 repeat investigations of unchanged
evidence; no tool output above its cap.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from k8s_monitor.config import Settings
from k8s_monitor.report import CycleReport, InvestigationRecord
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import Monitor, assemble
from tests.fakes.anthropic_server import FakeAnthropic, ToolScript

API_KEY = "bench-key"
MAX_CALLS_PER_INCIDENT = 8
MAX_TOKENS_PER_INCIDENT = 40_000
MAX_SECONDS_PER_INCIDENT = 30.0


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def _settings(work: Path, sim: SimServer, fake: FakeAnthropic, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        kubeconfig=sim.write_kubeconfig(work / "kubeconfig"),
        llm_provider="anthropic",
        anthropic_api_key=API_KEY,
        anthropic_base_url=fake.url,
        llm_max_retries=0,
        enable_long_context=True,
        session_dir=work / "sessions",
        report_dir=work / "reports",
        report_retention=1_000,
        metrics_port=0,
        cycle_message_max_tokens=6_000,
        **extra,
    )


def _step_for(cycle: int, cycles: int, steps: int) -> int:
    """Scenario steps spread evenly over the day (the last one holds to the end)."""
    return min(steps - 1, cycle * steps // cycles)


def run_day(
    cycles: int,
    interval_minutes: float,
    scenario: str,
    *,
    investigate: bool,
    max_context_tokens: int,
) -> dict[str, Any]:
    source = load_scenario(scenario)
    steps = len(source.step_names)
    reports: list[CycleReport] = []
    restarts = 0
    repeats = 0
    causes: dict[str, tuple[int, str]] = {}  # fingerprint -> (cycle found, evidence key)
    with (
        tempfile.TemporaryDirectory(prefix="bench-investigate-") as tmp,
        SimServer(source) as sim,
        FakeAnthropic(api_key=API_KEY, record_bodies=False) as fake,
    ):
        work = Path(tmp)
        fake.tool_script = ToolScript()
        settings = _settings(
            work,
            sim,
            fake,
            investigate=investigate,
            monitoring_interval_minutes=interval_minutes,
            # Small on purpose: the day has to prune (and compact) around tool turns.
            max_context_tokens=max_context_tokens,
        )
        monitor: Monitor = assemble(settings)
        try:
            for cycle in range(cycles):
                if cycle == cycles // 2:
                    monitor.close()  # a daemon restart: the session is reloaded from disk
                    monitor = assemble(settings)
                    restarts += 1
                sim.goto(_step_for(cycle, cycles, steps))
                reports.append(monitor.runner.run())
                repeats += _note_causes(work / "sessions" / "ledgers", causes)
                fake.advance(interval_minutes * 60)
        finally:
            monitor.close()
        ledger_causes = _ledger_causes(work / "sessions" / "ledgers")
        return {
            "reports": reports,
            "rejected": fake.stats.rejected,
            "requests": fake.stats.requests,
            "restarts": restarts,
            "tool_calls_scripted": len(fake.tool_script.calls),
            "ledger_root_causes": ledger_causes,
            "repeats": repeats,
            "cap_chars": settings.tool_output_max_tokens * 4,
        }


def _note_causes(directory: Path, causes: dict[str, tuple[int, str]]) -> int:
    """Root causes found again for evidence they were already found for (should be none).

    Reads the ledger the daemon wrote this cycle: a cause whose cycle moved on while its
    evidence key stayed the same means an incident was investigated again for nothing.
    """
    repeats = 0
    for path in directory.glob("*.json"):
        incidents = json.loads(path.read_text()).get("ledger", {}).get("incidents", {})
        for fingerprint, incident in incidents.items():
            cause = incident.get("root_cause")
            if not cause:
                continue
            found = (int(cause.get("cycle", 0)), str(cause.get("evidence_key", "")))
            before = causes.get(fingerprint)
            if before is not None and before[0] != found[0] and before[1] == found[1]:
                repeats += 1
            causes[fingerprint] = found
    return repeats


def _ledger_causes(directory: Path) -> int:
    count = 0
    for path in directory.glob("*.json"):
        data = json.loads(path.read_text())
        incidents = data.get("ledger", {}).get("incidents", {})
        count += sum(1 for i in incidents.values() if i.get("root_cause"))
    return count


def summarize(day: dict[str, Any]) -> dict[str, Any]:
    reports: list[CycleReport] = day["reports"]
    per_calls: list[float] = []
    per_tokens: list[float] = []
    per_seconds: list[float] = []
    investigated: dict[str, int] = {}
    max_output = 0
    tool_calls = 0
    for report in reports:
        stats = report.investigation or InvestigationRecord()
        incidents = stats.incidents
        tool_calls += stats.tool_calls
        max_output = max(max_output, stats.max_output_chars)
        if incidents:
            n = len(incidents)
            per_calls.append(stats.tool_calls / n)
            per_tokens.append(stats.billed_tokens / n)
            per_seconds.append(stats.seconds / n)
            for fingerprint in incidents:
                investigated[fingerprint] = investigated.get(fingerprint, 0) + 1
    return {
        "cycles": len(reports),
        "failed_cycles": sum(1 for r in reports if r.outcome.value == "failed"),
        "model_cycles": sum(1 for r in reports if r.analysis_source == "model"),
        "prunes": sum(1 for r in reports if r.pruned),
        "restarts": day["restarts"],
        "requests": day["requests"],
        "rejected_requests": day["rejected"],
        "billed_equivalent_tokens": round(sum(r.usage.billed_equivalent_tokens for r in reports)),
        "investigations": len(per_calls),
        "incidents_investigated": len(investigated),
        "tool_calls": tool_calls,
        "tool_calls_per_incident": _spread(per_calls),
        "billed_tokens_per_incident": _spread(per_tokens),
        "seconds_per_incident": _spread(per_seconds),
        "repeat_investigations_unchanged_evidence": day["repeats"],
        "root_causes_in_ledger": day["ledger_root_causes"],
        "root_causes_reused": sum(
            len(r.investigation.reused_root_causes) for r in reports if r.investigation
        ),
        "max_tool_output_chars": max_output,
        "tool_output_cap_chars": day["cap_chars"],
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    day = result["investigate"]
    calls = day["tool_calls_per_incident"]["max"]
    tokens = day["billed_tokens_per_incident"]["max"]
    seconds = day["seconds_per_incident"]["max"]
    checks = {
        "investigations_happened": day["investigations"] > 0 and day["root_causes_in_ledger"] > 0,
        "tool_calls_per_incident_at_most_8": calls is not None and calls <= MAX_CALLS_PER_INCIDENT,
        "tokens_per_incident_at_most_40k": tokens is not None and tokens <= MAX_TOKENS_PER_INCIDENT,
        "seconds_per_incident_at_most_30": seconds is not None
        and seconds <= MAX_SECONDS_PER_INCIDENT,
        "no_rejected_requests": day["rejected_requests"] == 0
        and result["baseline"]["rejected_requests"] == 0,
        "no_failed_cycles": day["failed_cycles"] == 0,
        "pruned_and_restarted": day["prunes"] > 0 and day["restarts"] == 1,
        "no_repeat_investigation_of_unchanged_evidence": day[
            "repeat_investigations_unchanged_evidence"
        ]
        == 0,
        "tool_output_within_cap": day["max_tool_output_chars"] <= day["tool_output_cap_chars"],
    }
    return {**checks, "all_met": all(checks.values())}


def run(
    cycles: int, interval_minutes: float, scenario: str, max_context_tokens: int
) -> dict[str, Any]:
    started = time.perf_counter()
    day = {"max_context_tokens": max_context_tokens}
    with_tools = summarize(run_day(cycles, interval_minutes, scenario, investigate=True, **day))
    baseline = summarize(run_day(cycles, interval_minutes, scenario, investigate=False, **day))
    base_tokens = baseline["billed_equivalent_tokens"] or 1
    result: dict[str, Any] = {
        "scenario": scenario,
        "cycles": cycles,
        "interval_minutes": interval_minutes,
        "max_context_tokens": max_context_tokens,
        "investigate": with_tools,
        "baseline": baseline,
        "ratio_billed_tokens_with_tools_vs_without": round(
            with_tools["billed_equivalent_tokens"] / base_tokens, 3
        ),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    result["targets"] = _targets(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=96)
    parser.add_argument("--interval-minutes", type=float, default=15.0)
    parser.add_argument("--scenario", default="incident-day")
    parser.add_argument("--max-context-tokens", type=int, default=24_000)
    args = parser.parse_args(argv)
    _quiet()
    result = run(args.cycles, args.interval_minutes, args.scenario, args.max_context_tokens)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if result["targets"]["all_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
