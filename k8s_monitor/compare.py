"""Comparison mode: every way of talking to the model, side by side on the same cycles.

Every mode sees the identical snapshot sequence: the simulator replays a scenario, the real
collector reads it, the daemon's front half (``cycle.observe``: rules, evidence read from the
simulator, causes, ledger) runs once per cycle, and each mode's conversation answers the same
``CycleContext``. Baselines are fair: the naive modes use the same renderer and prompts as ours
and differ only in what the mode is about.

- ``naive_persistent``: the original design; the full state every cycle, appended to the whole
  history, no prompt caching, no delta, pruned only at the limit;
- ``naive_stateless``: the full state (and ledger digest) every cycle, no caching;
- ``stateless``: ours, asked every cycle;
- ``persistent_every_cycle``: ours (cache, delta, prune with hysteresis), asked every cycle;
- ``persistent_on_change``: the same, asked when something changed or on the heartbeat
  (``LLM_CALL_POLICY=on-change``), quiet cycles folded into the next turn;
- ``stateless_on_change``: an extra, the stateless mode under the same policy;
- ``extra_raw_dump_persistent``: an extra, the seed's raw JSON dump of the cluster every cycle.

The changing-day scenario (``k8s_monitor.sim.churn``) is collected every cycle and carries its
scripted truth: the ledger and the offline report are scored against it (which incident is new,
recurring, resolved at each cycle), and every SEV-1/SEV-2 change is checked to have reached the
model within one cycle.
"""

from __future__ import annotations

import dataclasses
import functools
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

from k8s_monitor.analysis.escalation import Sev, escalate
from k8s_monitor.analysis.findings import ObjectRef
from k8s_monitor.analysis.incidents import Incident, Ledger, LedgerUpdate, Trend
from k8s_monitor.analysis.services import load_catalog
from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.lookup import ClusterLookup
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import CallPolicy, Settings
from k8s_monitor.converse import ConverseInput, ConverseOutcome, build_conversation
from k8s_monitor.converse.answer import AnalysisSource, CycleAnalysis
from k8s_monitor.converse.engine import Asker, Meter, describe
from k8s_monitor.converse.offline import deterministic_analysis
from k8s_monitor.converse.policy import CallGate, quiet_outcome
from k8s_monitor.converse.prompts import SYSTEM_PROMPT
from k8s_monitor.converse.render import MessageKind, render_cycle_message
from k8s_monitor.cycle.observe import observe
from k8s_monitor.errors import ModelError
from k8s_monitor.investigate import EvidenceReads
from k8s_monitor.investigate.reads import LookupReads
from k8s_monitor.llm.accounting import price_table_for, usage_to_dict
from k8s_monitor.llm.protocol import ModelProvider
from k8s_monitor.llm.providers import build_provider
from k8s_monitor.llm.wire import memoized
from k8s_monitor.redaction import Redact, Redactor
from k8s_monitor.report import ModelUsage
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sessions.tokens import TokenCounter
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.sim.churn import CHANGING_DAY, ChangingDay, changing_day

log = structlog.get_logger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_URGENT = frozenset({Sev.SEV1, Sev.SEV2})


class Mode(StrEnum):
    NAIVE_PERSISTENT = "naive_persistent"
    NAIVE_STATELESS = "naive_stateless"
    STATELESS = "stateless"
    PERSISTENT_EVERY_CYCLE = "persistent_every_cycle"
    PERSISTENT = "persistent_on_change"
    STATELESS_ON_CHANGE = "stateless_on_change"
    RAW_DUMP = "extra_raw_dump_persistent"


DEFAULT_MODES = (
    Mode.NAIVE_PERSISTENT,
    Mode.NAIVE_STATELESS,
    Mode.STATELESS,
    Mode.PERSISTENT_EVERY_CYCLE,
    Mode.PERSISTENT,
    Mode.STATELESS_ON_CHANGE,
)
_ON_CHANGE = frozenset({Mode.PERSISTENT, Mode.STATELESS_ON_CHANGE})
_PERSISTENT = frozenset({Mode.PERSISTENT, Mode.PERSISTENT_EVERY_CYCLE})


class Conversing(Protocol):
    mode: str

    def converse(self, data: ConverseInput) -> ConverseOutcome: ...

    def close(self) -> None: ...


@dataclass
class ModeStats:
    mode: str
    usage: ModelUsage = field(default_factory=ModelUsage)
    cycles: int = 0
    model_calls: int = 0
    model_answers: int = 0
    fallbacks: int = 0
    rejected: int = 0
    prunes: int = 0
    max_context_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    cache_hit_rates: list[float] = field(default_factory=list)
    urgent_changes: int = 0
    urgent_analysed: int = 0  # by the model within one cycle
    reported: set[str] = field(default_factory=set)  # fingerprints the analyses named
    _urgent_pending: set[int] = field(default_factory=set)

    def add(self, outcome: ConverseOutcome, *, called: bool, urgent: bool, cycle: int) -> None:
        self.cycles += 1
        self.model_calls += int(called)
        self.usage = self.usage + outcome.usage
        self.max_context_tokens = max(self.max_context_tokens, outcome.context_tokens)
        self.prunes += int(outcome.pruned)
        self.reported.update(_named(outcome.analysis))
        answered = outcome.source is AnalysisSource.MODEL
        if answered:
            self.model_answers += 1
            self.latencies.append(outcome.latency_seconds)
            self._cache_rate(outcome.usage)
        elif outcome.source is AnalysisSource.FALLBACK:
            self.fallbacks += 1
        self._urgent(urgent=urgent, answered=answered, cycle=cycle)
        if outcome.error is not None:
            kind = outcome.error.split(":", 1)[0]
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.rejected += int(kind in ("ModelRequestError", "ContextTooLongError"))

    def _urgent(self, *, urgent: bool, answered: bool, cycle: int) -> None:
        if urgent:
            self.urgent_changes += 1
            self._urgent_pending.add(cycle)
        if answered:
            # Analysed within one cycle: answered on the cycle of the change or the next.
            self.urgent_analysed += sum(1 for c in self._urgent_pending if cycle - c <= 1)
            self._urgent_pending.clear()
        self._urgent_pending = {c for c in self._urgent_pending if cycle - c < 1}

    def _cache_rate(self, usage: ModelUsage) -> None:
        prompt = usage.input_tokens + usage.cache_read_tokens
        prompt += usage.cache_write_5m_tokens + usage.cache_write_1h_tokens
        if prompt:
            self.cache_hit_rates.append(usage.cache_read_tokens / prompt)

    def to_json(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            **usage_to_dict(self.usage),
            "model_calls": self.model_calls,
            "model_answers": self.model_answers,
            "fallbacks": self.fallbacks,
            "rejected_requests": self.rejected,
            "errors": dict(sorted(self.errors.items())),
            "prunes": self.prunes,
            "max_context_tokens": self.max_context_tokens,
            "latency_median_seconds": _median(self.latencies, 4),
            "cache_hit_rate_median": _median(self.cache_hit_rates, 4),
            "urgent_changes": self.urgent_changes,
            "urgent_analysed_within_one_cycle": self.urgent_analysed,
            "incidents_reported": len(self.reported),
        }


def _median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _named(analysis: CycleAnalysis) -> set[str]:
    return {
        *analysis.new_fingerprints,
        *analysis.recurring_fingerprints,
        *analysis.resolved_fingerprints,
    }


def _ask_uncached(
    asker: Asker,
    history: list[dict[str, Any]],
    data: ConverseInput,
    *,
    mode: str,
    pruned: bool,
    context_tokens: int = 0,
) -> tuple[ConverseOutcome, str | None]:
    """One baseline turn, no cache: the outcome, and the answer's text (None on a fallback)."""
    meter = Meter()
    try:
        answer = asker.ask(history, known=data.known_fingerprints, meter=meter, cache_history=False)
    except ModelError as exc:
        fallback = ConverseOutcome(
            analysis=deterministic_analysis(data, reason="model unavailable"),
            source=AnalysisSource.FALLBACK,
            mode=mode,
            usage=meter.usage,
            error=describe(exc),
            context_tokens=context_tokens,
            pruned=pruned,
        )
        return fallback, None
    outcome = ConverseOutcome(
        analysis=answer.analysis,
        source=AnalysisSource.MODEL,
        mode=mode,
        usage=meter.usage,
        context_tokens=answer.reply.prompt_tokens + answer.reply.usage.output_tokens,
        pruned=pruned,
        latency_seconds=meter.latency_seconds,
        model=answer.reply.model,
    )
    return outcome, answer.text


class NaiveConversation:
    """The original design, as a fair baseline: our renderer and prompts, nothing else of ours.

    Persistent: the full state every cycle appended to the whole history, no cache, no delta,
    pruned (the seed's way) only when the history no longer fits. Stateless: the full state and
    ledger digest every cycle, no cache.
    """

    def __init__(
        self,
        settings: Settings,
        asker: Asker,
        *,
        persistent: bool,
        sessions: SessionManager,
        redact: Redact,
    ) -> None:
        self.mode = (Mode.NAIVE_PERSISTENT if persistent else Mode.NAIVE_STATELESS).value
        self._settings = settings
        self._asker = asker
        self._persistent = persistent
        self._sessions = sessions
        self._redact = redact
        self._history: list[dict[str, Any]] = []

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        kind = MessageKind.FULL if self._persistent else MessageKind.STATELESS
        text = render_cycle_message(
            data,
            kind=kind,
            budget_tokens=self._settings.cycle_message_max_tokens,
            redact=self._redact,
        )
        user = {"role": "user", "content": text}
        history = [*self._history, user] if self._persistent else [user]
        pruned = False
        if self._persistent and self._tokens(history) > self._limit():
            history = self._sessions.prune_old_messages(history, max_tokens=self._limit())
            pruned = True
        outcome, reply = _ask_uncached(self._asker, history, data, mode=self.mode, pruned=pruned)
        if self._persistent and reply is not None:
            self._history = [*history, {"role": "assistant", "content": reply}]
        return outcome

    def _tokens(self, history: list[dict[str, Any]]) -> int:
        return self._sessions.count_tokens([{"role": "system", "content": SYSTEM_PROMPT}, *history])

    def _limit(self) -> int:
        settings = self._settings
        return (
            settings.max_context_tokens
            - settings.llm_max_output_tokens
            - settings.cycle_message_max_tokens
        )

    def close(self) -> None:
        return None


class SeedConversation:
    """The seed's raw JSON dump of the cluster every cycle: a labelled extra, not a baseline.

    Most of what it costs is the dump, not the mode; the fair baselines are the naive modes.
    """

    def __init__(
        self,
        settings: Settings,
        asker: Asker | None,
        *,
        persistent: bool,
        sessions: SessionManager,
        redact: Redact,
    ) -> None:
        self.mode = Mode.RAW_DUMP.value if persistent else "extra_raw_dump_stateless"
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
        outcome, reply = _ask_uncached(
            self._asker, history, data, mode=self.mode, pruned=pruned, context_tokens=tokens
        )
        if self._persistent and reply is not None:
            self._history = [*history, {"role": "assistant", "content": reply}]
        return outcome

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
    modes: tuple[Mode, ...] = DEFAULT_MODES
    pods: int = 500  # the changing day's cluster size
    # changing-day: the day's length in cycles and the first cycle run (a window of the day).
    day_cycles: int | None = None
    first_cycle: int = 1


@dataclass(frozen=True)
class CycleInput:
    now: datetime
    snapshot: ClusterSnapshot
    truth: dict[str, str] | None  # scripted statuses by fault key; None: no script
    reads: EvidenceReads  # the simulated cluster at this cycle's step, as the daemon reads it


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
    catalog = load_catalog(None)
    with ExitStack() as stack:
        root = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        conversations = {
            mode: _conversation(mode, settings, factory(mode), redact, root / mode.value)
            for mode in options.modes
        }
        for conversation in conversations.values():
            stack.callback(conversation.close)
        gates = {mode: _gate(mode, settings) for mode in options.modes}
        stats = {mode: ModeStats(mode.value) for mode in options.modes}
        truth = TruthScore()
        cycles = stack.enter_context(scenario_cycles(settings, options, redactor))
        ledger = Ledger()
        quiet_cycles = 0
        for cycle, item in enumerate(cycles, start=1):
            seen = observe(
                item.snapshot,
                ledger,
                now=item.now,
                catalog=catalog,
                resolve_after=settings.resolve_after_cycles,
                reads=item.reads,
                redact=redact,
            )
            ledger, update = seen.ledger, seen.update
            data = ConverseInput(
                cycle=update.cycle,
                now=item.now,
                cluster=settings.cluster_name,
                snapshot=seen.snapshot,
                findings=seen.findings,
                update=update,
                ledger=ledger,
            )
            urgent = _urgent_change(update, catalog, item.now)
            quiet_cycles += int(not (update.new or update.resolved or update.flapping))
            if item.truth is not None:
                report = deterministic_analysis(data, reason="scored against the script")
                truth.add(cycle, item.truth, update, report)
            for mode, conversation in conversations.items():
                outcome, called = _turn(conversation, gates[mode], data)
                stats[mode].add(outcome, called=called, urgent=urgent, cycle=cycle)
            if after_cycle is not None:
                after_cycle(cycle)
    result = _result(settings, options, stats)
    result["quiet_cycle_share"] = round(quiet_cycles / max(1, options.cycles), 4)
    if truth.cycles:
        result["ground_truth"] = truth.to_json()
    return result


def _gate(mode: Mode, settings: Settings) -> CallGate:
    policy = CallPolicy.ON_CHANGE if mode in _ON_CHANGE else CallPolicy.EVERY_CYCLE
    return CallGate(policy, settings.llm_heartbeat_cycles)


def _turn(
    conversation: Conversing, gate: CallGate, data: ConverseInput
) -> tuple[ConverseOutcome, bool]:
    """One mode's cycle, gated by its call policy exactly as ``cycle.runner`` gates the daemon's."""
    update = data.ledger_update
    decision = gate.decide(update)
    if not decision.call:
        gate.skipped(update)
        return quiet_outcome(data, conversation.mode), False
    outcome = conversation.converse(
        dataclasses.replace(
            data,
            quiet_cycles=decision.quiet_cycles,
            cache_prefix=decision.cache_prefix(update),
        )
    )
    if outcome.source in (AnalysisSource.MODEL, AnalysisSource.OFFLINE):
        gate.answered(update)
    return outcome, True


def _urgent_change(update: LedgerUpdate, catalog: Any, now: datetime) -> bool:
    """A SEV-1/SEV-2 incident that is new, back, or worse this cycle."""
    changed = {i.fingerprint for i in [*update.new, *update.flapping]}
    changed.update(i.fingerprint for i in update.recurring if i.trend is Trend.WORSENING)
    return any(
        e.sev in _URGENT and e.incident.fingerprint in changed
        for e in escalate(update, catalog=catalog, now=now, model_severities={})
    )


# --- ground truth ----------------------------------------------------------------------------


def fault_key(subject: ObjectRef, keys: set[str]) -> str | None:
    """The scripted fault a finding's subject belongs to, if any."""
    if subject.kind == "Node":
        key = f"node/{subject.name}"
        return key if key in keys else None
    for key in keys:
        namespace, _, name = key.partition("/")
        if subject.namespace == namespace and (
            subject.name == name or subject.name.startswith(f"{name}-")
        ):
            return key
    return None


def statuses_by_key(
    open_now: list[Incident], open_before: set[str], keys: set[str]
) -> tuple[dict[str, str], set[str], set[str]]:
    """Per fault key: new / recurring / resolved; the keys open now; subjects matching no key."""
    now_keys: set[str] = set()
    unscripted: set[str] = set()
    for incident in open_now:
        key = fault_key(incident.finding.subject, keys)
        if key is None:
            unscripted.add(str(incident.finding.subject))
        else:
            now_keys.add(key)
    statuses = {k: ("recurring" if k in open_before else "new") for k in now_keys}
    statuses.update({k: "resolved" for k in open_before - now_keys})
    return statuses, now_keys, unscripted


@dataclass
class TruthScore:
    """The ledger and the offline report, cycle by cycle, against the scenario's script."""

    cycles: int = 0
    ledger_agreeing: int = 0
    report_agreeing: int = 0
    unscripted: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    _ledger_open: set[str] = field(default_factory=set)
    _report_open: set[str] = field(default_factory=set)

    def add(
        self, cycle: int, truth: dict[str, str], update: LedgerUpdate, report: CycleAnalysis
    ) -> None:
        # A fault's key counts from its first scripted cycle: a match before it is unscripted.
        self.keys |= set(truth)
        keys = self.keys
        self.cycles += 1
        ledger, self._ledger_open, extra = statuses_by_key(update.open, self._ledger_open, keys)
        self.unscripted |= extra
        reported = _reported_open(report, update)
        said, self._report_open, _ = statuses_by_key(reported, self._report_open, keys)
        self.ledger_agreeing += int(ledger == truth)
        self.report_agreeing += int(said == truth)
        if ledger != truth and len(self.mismatches) < 10:
            self.mismatches.append({"cycle": cycle, "truth": truth, "ledger": ledger})

    def to_json(self) -> dict[str, Any]:
        return {
            "cycles_scored": self.cycles,
            "ledger_agreement": round(self.ledger_agreeing / self.cycles, 4),
            "offline_report_agreement": round(self.report_agreeing / self.cycles, 4),
            "unscripted_incidents": sorted(self.unscripted),
            "mismatches": self.mismatches,
        }


def _reported_open(report: CycleAnalysis, update: LedgerUpdate) -> list[Incident]:
    """The incidents the report calls open (new or recurring), looked up in the update."""
    named = {*report.new_fingerprints, *report.recurring_fingerprints}
    return [i for i in update.open if i.fingerprint in named]


# --- conversations and cycles ----------------------------------------------------------------


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
    if mode in (*_PERSISTENT, Mode.STATELESS, Mode.STATELESS_ON_CHANGE):
        return build_conversation(
            mode_settings,
            sessions,
            provider=provider,
            redact=redact,
            persistent=mode in _PERSISTENT,
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
    if mode is Mode.RAW_DUMP or asker is None:
        return SeedConversation(
            mode_settings, asker, persistent=True, sessions=sessions, redact=redact
        )
    return NaiveConversation(
        mode_settings,
        asker,
        persistent=mode is Mode.NAIVE_PERSISTENT,
        sessions=sessions,
        redact=redact,
    )


@contextmanager
def scenario_cycles(
    settings: Settings, options: CompareOptions, redactor: Redactor
) -> Iterator[Iterator[CycleInput]]:
    """One ``CycleInput`` per cycle.

    ``changing-day``: one scenario step per cycle, collected every cycle, with its truth.
    Another scenario: its steps spread evenly over the cycles, each step collected once.
    """
    interval = timedelta(minutes=options.interval_minutes)
    offset = 0
    truth: Callable[[int], dict[str, str]] | None = None
    if options.scenario == CHANGING_DAY:
        day_cycles = options.day_cycles or options.cycles
        offset = options.first_cycle - 1
        if offset < 0 or offset + options.cycles > day_cycles:
            raise ValueError(f"cycles {options.first_cycle}+{options.cycles} exceed the day")
        day = changing_day(
            cycles=day_cycles, pods=options.pods, step_seconds=interval.total_seconds()
        )
        scenario, per_step = day.scenario, 1
        truth = functools.partial(_shifted_truth, day, offset)
    else:
        probe = load_scenario(options.scenario)
        per_step = max(1, -(-options.cycles // len(probe.step_names)))  # ceil
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
        lookup = ClusterLookup.from_settings(
            load_api_client(collect_settings), collect_settings, redactor
        )
        reads = LookupReads(lookup)
        try:
            yield _cycles(
                server, collector, reads, options.cycles, per_step, interval, truth, offset
            )
        finally:
            lookup.close()
            collector.close()


def _shifted_truth(day: ChangingDay, offset: int, cycle: int) -> dict[str, str]:
    return day.truth(cycle + offset)


def _cycles(
    server: SimServer,
    collector: Collector,
    reads: EvidenceReads,
    cycles: int,
    per_step: int,
    interval: timedelta,
    truth: Callable[[int], dict[str, str]] | None,
    offset: int = 0,
) -> Iterator[CycleInput]:
    collected: dict[int, ClusterSnapshot] = {}
    start = server.step_time(offset)
    for index in range(cycles):
        step = min(offset + index // per_step, server.step_count - 1)
        now = start + index * interval
        if step not in collected:
            collected.clear()
            server.goto(step)
            collected[step] = collector.collect(now=server.step_time(step))
        snapshot = msgspec.structs.replace(collected[step], collected_at=now)
        yield CycleInput(now, snapshot, truth(index + 1) if truth is not None else None, reads)


def _result(
    settings: Settings, options: CompareOptions, stats: dict[Mode, ModeStats]
) -> dict[str, Any]:
    modes = {mode.value: s.to_json() for mode, s in stats.items()}
    ratios: dict[str, float | None] = {}
    for top in stats:
        for bottom in stats:
            if top is bottom:
                continue
            below = stats[bottom].usage.billed_equivalent_tokens
            above = stats[top].usage.billed_equivalent_tokens
            ratios[f"{top.value}_vs_{bottom.value}"] = round(above / below, 4) if below else None
    every = stats.get(Mode.PERSISTENT_EVERY_CYCLE)
    on_change = stats.get(Mode.PERSISTENT)
    if every is not None and on_change is not None:
        modes[Mode.PERSISTENT.value]["same_incidents_as_every_cycle"] = (
            on_change.reported == every.reported
        )
    return {
        "scenario": options.scenario,
        "cycles": options.cycles,
        "interval_minutes": options.interval_minutes,
        "provider": settings.resolved_provider.value,
        "model": settings.anthropic_model,
        "max_context_tokens": settings.max_context_tokens,
        "heartbeat_cycles": settings.llm_heartbeat_cycles,
        "modes": modes,
        "ratios": ratios,
    }


__all__ = [
    "DEFAULT_MODES",
    "CompareOptions",
    "Mode",
    "ModeStats",
    "NaiveConversation",
    "SeedConversation",
    "TruthScore",
    "run_compare",
    "scenario_cycles",
]
