"""Comparison mode: stateless and persistent side by side, against a seed-style baseline.

Every mode sees the identical snapshot sequence: the simulator replays a scenario, the real
collector reads it once per scenario step, the rules and the ledger run once per cycle, and each
mode's conversation answers the same ``CycleContext``. Two baselines reproduce how the seed
talked to the model, so savings are ratios measured in the same run:

- ``seed_persistent``: the full history every cycle, no ``cache_control``, the whole cluster
  dump in every message, and the seed's prune (``prune_old_messages``) when ``should_prune``;
- ``seed_stateless``: one message per cycle with the whole cluster dump, no caching.

Reported per mode: requests, token kinds, billed-equivalent tokens, USD, latency, rejected
requests, the largest context sent, and how often the model's new / recurring / resolved
fingerprints agree with the ledger.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from k8s_monitor.analysis.incidents import Ledger, LedgerUpdate
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import Settings
from k8s_monitor.converse import ConverseInput, ConverseOutcome, build_conversation
from k8s_monitor.converse.answer import AnalysisSource
from k8s_monitor.converse.engine import Asker, Meter, describe
from k8s_monitor.converse.offline import deterministic_analysis
from k8s_monitor.converse.prompts import SYSTEM_PROMPT
from k8s_monitor.errors import ModelError
from k8s_monitor.llm.accounting import price_table_for, usage_to_dict
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import build_provider
from k8s_monitor.llm.wire import memoized
from k8s_monitor.redaction import Redact, Redactor
from k8s_monitor.report import ModelUsage
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sessions.tokens import TokenCounter
from k8s_monitor.sim import SimServer, load_scenario

log = structlog.get_logger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Mode(StrEnum):
    PERSISTENT = "persistent"
    STATELESS = "stateless"
    SEED_PERSISTENT = "seed_persistent"
    SEED_STATELESS = "seed_stateless"


class Conversing(Protocol):
    def converse(self, data: ConverseInput) -> ConverseOutcome: ...

    def close(self) -> None: ...


@dataclass
class ModeStats:
    mode: str
    usage: ModelUsage = field(default_factory=ModelUsage)
    cycles: int = 0
    model_answers: int = 0
    fallbacks: int = 0
    rejected: int = 0
    agreements: int = 0
    prunes: int = 0
    max_context_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: ConverseOutcome, update: LedgerUpdate) -> None:
        self.cycles += 1
        self.usage = self.usage + outcome.usage
        self.max_context_tokens = max(self.max_context_tokens, outcome.context_tokens)
        self.prunes += int(outcome.pruned)
        if outcome.source is AnalysisSource.MODEL:
            self.model_answers += 1
            self.latencies.append(outcome.latency_seconds)
            self.agreements += int(_agrees(outcome, update))
        elif outcome.source is AnalysisSource.FALLBACK:
            self.fallbacks += 1
        if outcome.error is not None:
            kind = outcome.error.split(":", 1)[0]
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.rejected += int(kind in ("ModelRequestError", "ContextTooLongError"))

    def to_json(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            **usage_to_dict(self.usage),
            "model_answers": self.model_answers,
            "fallbacks": self.fallbacks,
            "rejected_requests": self.rejected,
            "errors": dict(sorted(self.errors.items())),
            "prunes": self.prunes,
            "max_context_tokens": self.max_context_tokens,
            "latency_median_seconds": (
                round(statistics.median(self.latencies), 4) if self.latencies else None
            ),
            "ledger_agreement": (
                round(self.agreements / self.model_answers, 4) if self.model_answers else None
            ),
        }


def _agrees(outcome: ConverseOutcome, update: LedgerUpdate) -> bool:
    analysis = outcome.analysis
    return (
        set(analysis.new_fingerprints) == {i.fingerprint for i in update.new}
        and set(analysis.resolved_fingerprints) == {i.fingerprint for i in update.resolved}
        and set(analysis.recurring_fingerprints)
        == {i.fingerprint for i in [*update.recurring, *update.flapping]}
    )


class SeedConversation:
    """The seed's way of talking to the model, kept only as a measured baseline."""

    def __init__(
        self,
        settings: Settings,
        asker: Asker | None,
        *,
        persistent: bool,
        sessions: SessionManager,
        redact: Redact,
    ) -> None:
        self.mode = Mode.SEED_PERSISTENT.value if persistent else Mode.SEED_STATELESS.value
        self._settings = settings
        self._asker = asker
        self._persistent = persistent
        self._sessions = sessions
        self._redact = redact
        self._history: list[dict[str, Any]] = []

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        user = {"role": "user", "content": self._message(data)}
        history = [*self._history, user] if self._persistent else [user]
        pruned = False
        if self._persistent and self._sessions.should_prune(history):
            history = self._sessions.prune_old_messages(history)
            pruned = True
        tokens = self._sessions.count_tokens(
            [{"role": "system", "content": SYSTEM_PROMPT}, *history]
        )
        if self._asker is None:
            analysis = deterministic_analysis(data, reason="offline mode, no model configured")
            return ConverseOutcome(
                analysis=analysis,
                source=AnalysisSource.OFFLINE,
                mode=self.mode,
                context_tokens=tokens,
                pruned=pruned,
            )
        meter = Meter()
        try:
            answer = self._asker.ask(
                history, known=data.known_fingerprints, meter=meter, cache_history=False
            )
        except ModelError as exc:
            return ConverseOutcome(
                analysis=deterministic_analysis(data, reason="model unavailable"),
                source=AnalysisSource.FALLBACK,
                mode=self.mode,
                usage=meter.usage,
                error=describe(exc),
                context_tokens=tokens,
                pruned=pruned,
            )
        if self._persistent:
            self._history = [*history, {"role": "assistant", "content": answer.text}]
        return ConverseOutcome(
            analysis=answer.analysis,
            source=AnalysisSource.MODEL,
            mode=self.mode,
            usage=meter.usage,
            context_tokens=answer.reply.prompt_tokens + answer.reply.usage.output_tokens,
            pruned=pruned,
            latency_seconds=meter.latency_seconds,
            model=answer.reply.model,
        )

    def close(self) -> None:
        return None

    def _message(self, data: ConverseInput) -> str:
        # The time is in the header, so the dump's bytes (and their redaction, cached) repeat
        # while the cluster does not change.
        timeless = msgspec.structs.replace(data.snapshot, collected_at=_EPOCH)
        dump = self._redact(msgspec.json.encode(timeless).decode())
        findings = self._redact(msgspec.json.encode([f.to_json() for f in data.findings]).decode())
        header = (
            f"Monitoring cycle {data.cycle} at {data.now.isoformat()} for cluster {data.cluster}."
        )
        return f"{header}\nFindings: {findings}\nFull cluster state: {dump}"


@dataclass(frozen=True)
class CompareOptions:
    scenario: str
    cycles: int
    interval_minutes: float
    modes: tuple[Mode, ...] = tuple(Mode)


ProviderFactory = Callable[[Mode], ModelProvider | None]
AfterCycle = Callable[[int], None]


def run_compare(
    settings: Settings,
    options: CompareOptions,
    *,
    provider_factory: ProviderFactory | None = None,
    after_cycle: AfterCycle | None = None,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Run every mode over the same cycles; returns the comparison as one JSON-ready dict.

    ``provider_factory`` gives each mode its provider (default: the configured one);
    ``after_cycle`` runs between cycles (benchmarks advance a fake clock there).
    """
    factory = provider_factory or (lambda _mode: build_provider(settings))
    redactor = Redactor.from_settings(settings)
    redact = memoized(redactor.redact)  # one cache for every mode: they send the same texts
    with ExitStack() as stack:
        root = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        conversations = {
            mode: _conversation(mode, settings, factory(mode), redact, root / mode.value)
            for mode in options.modes
        }
        for conversation in conversations.values():
            stack.callback(conversation.close)
        stats = {mode: ModeStats(mode.value) for mode in options.modes}
        snapshots = stack.enter_context(scenario_snapshots(settings, options, redactor))
        ledger = Ledger()
        for cycle, (now, snapshot) in enumerate(snapshots, start=1):
            findings = analyze(snapshot, now=now)
            ledger, update = update_ledger(
                ledger, findings, now=now, resolve_after=settings.resolve_after_cycles
            )
            data = ConverseInput(
                cycle=update.cycle,
                now=now,
                cluster=settings.cluster_name,
                snapshot=snapshot,
                findings=findings,
                update=update,
                ledger=ledger,
            )
            for mode, conversation in conversations.items():
                stats[mode].add(conversation.converse(data), update)
            if after_cycle is not None:
                after_cycle(cycle)
    return _result(settings, options, stats)


def _conversation(
    mode: Mode,
    settings: Settings,
    provider: ModelProvider | None,
    redact: Redact,
    directory: Path,
) -> Conversing:
    mode_settings = settings.model_copy(
        update={"session_dir": directory, "session_id": f"compare-{mode.value}"}
    )
    sessions = SessionManager.from_settings(mode_settings)
    if mode in (Mode.PERSISTENT, Mode.STATELESS):
        return build_conversation(
            mode_settings,
            sessions,
            provider=provider,
            redact=redact,
            persistent=mode is Mode.PERSISTENT,
            offline=provider is None,
        )
    asker = None
    if provider is not None:
        asker = Asker(
            provider,
            prices=price_table_for(settings),
            redact=redact,
            max_output_tokens=settings.llm_max_output_tokens,
            cache_ttl=None,
            estimator=TokenCounter(),
            max_context_tokens=settings.max_context_tokens,
        )
    return SeedConversation(
        mode_settings,
        asker,
        persistent=mode is Mode.SEED_PERSISTENT,
        sessions=sessions,
        redact=redact,
    )


@contextmanager
def scenario_snapshots(
    settings: Settings, options: CompareOptions, redactor: Redactor
) -> Iterator[Iterator[tuple[datetime, ClusterSnapshot]]]:
    """``(now, snapshot)`` per cycle; scenario steps spread evenly over the cycles.

    The real collector reads each step once from the simulator; cycles within a step reuse
    that snapshot at their own time, so a long run costs a handful of collections.
    """
    interval = timedelta(minutes=options.interval_minutes)
    probe = load_scenario(options.scenario)
    steps = len(probe.step_names)
    per_step = max(1, -(-options.cycles // steps))  # ceil
    scenario = load_scenario(options.scenario, step_seconds=per_step * interval.total_seconds())
    with tempfile.TemporaryDirectory() as tmp, SimServer(scenario) as server:
        kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
        collect_settings = settings.model_copy(update={"kubeconfig": kubeconfig})
        collector = Collector(
            load_api_client(collect_settings),
            CollectOptions.from_settings(collect_settings),
            redactor,
            cluster_name=settings.cluster_name,
        )
        try:
            yield _cycles(server, collector, options.cycles, per_step, interval)
        finally:
            collector.close()


def _cycles(
    server: SimServer, collector: Collector, cycles: int, per_step: int, interval: timedelta
) -> Iterator[tuple[datetime, ClusterSnapshot]]:
    collected: dict[int, ClusterSnapshot] = {}
    start = server.step_time(0)
    for index in range(cycles):
        step = min(index // per_step, server.step_count - 1)
        now = start + index * interval
        if step not in collected:
            server.goto(step)
            collected[step] = collector.collect(now=server.step_time(step))
        yield now, msgspec.structs.replace(collected[step], collected_at=now)


def _result(
    settings: Settings, options: CompareOptions, stats: dict[Mode, ModeStats]
) -> dict[str, Any]:
    modes = {mode.value: s.to_json() for mode, s in stats.items()}
    ratios: dict[str, float | None] = {}
    for name, top, bottom in (
        ("persistent_vs_seed_persistent", Mode.PERSISTENT, Mode.SEED_PERSISTENT),
        ("stateless_vs_seed_stateless", Mode.STATELESS, Mode.SEED_STATELESS),
        ("persistent_vs_stateless", Mode.PERSISTENT, Mode.STATELESS),
    ):
        if top in stats and bottom in stats:
            below = stats[bottom].usage.billed_equivalent_tokens
            above = stats[top].usage.billed_equivalent_tokens
            ratios[name] = round(above / below, 4) if below else None
    return {
        "scenario": options.scenario,
        "cycles": options.cycles,
        "interval_minutes": options.interval_minutes,
        "provider": settings.resolved_provider.value,
        "model": settings.anthropic_model,
        "max_context_tokens": settings.max_context_tokens,
        "modes": modes,
        "ratios": ratios,
    }


__all__ = [
    "CompareOptions",
    "Mode",
    "ModeStats",
    "SeedConversation",
    "run_compare",
    "scenario_snapshots",
]
