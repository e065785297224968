"""When a cycle asks the model: ``LLM_CALL_POLICY`` as a pure decision over the ledger update.

``on-change`` asks when the incident set changed (new, resolved, flapping), when an open
incident got worse or its severity or material evidence changed since the model last answered,
and at least every ``LLM_HEARTBEAT_CYCLES`` cycles. Every other cycle is quiet: the cycle still
collects, analyses, remembers, notifies and reports (with the deterministic analysis), and the
next model turn says in one line which cycles were quiet. ``every-cycle`` always asks.

The state is what the model last saw (per-incident signatures) and the quiet stretch since; it
advances only when the model actually answered, so a failed call is retried next cycle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from k8s_monitor.analysis.incidents import Incident, LedgerUpdate, Trend
from k8s_monitor.config import CallPolicy
from k8s_monitor.converse.answer import AnalysisSource
from k8s_monitor.converse.offline import deterministic_analysis
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome

# Evidence that moves every cycle without the incident changing (restart counters, times,
# log tails), at any depth: a crash loop restarting again is not news to the model.
_VOLATILE_MARKERS = (
    "count",
    "_at",
    "time",
    "since",
    "age",
    "log",
    "excerpt",
    "seen",
    "duration",
)


class CallReason(StrEnum):
    FIRST = "first"  # nothing answered yet in this process
    EVERY_CYCLE = "every-cycle"
    NEW = "new"
    RESOLVED = "resolved"
    FLAPPING = "flapping"
    WORSENING = "worsening"
    CHANGED = "changed"  # severity or material evidence differ from what the model last saw
    HEARTBEAT = "heartbeat"
    QUIET = "quiet"  # not called


@dataclass(frozen=True)
class CallState:
    """What the model last answered about; ``None`` before the first answer."""

    last_call_cycle: int | None = None
    signatures: dict[str, str] = field(default_factory=dict)
    quiet: tuple[int, int] | None = None  # first and last quiet cycle since the last answer


@dataclass(frozen=True)
class CallDecision:
    call: bool
    reason: CallReason
    quiet_cycles: tuple[int, int] | None = None  # the quiet stretch the next turn folds in

    def cache_prefix(self, update: LedgerUpdate) -> bool:
        """Whether to write the history to the prompt cache this call.

        A cache write costs more than plain input (1.25x or 2x) and pays only if another call
        reads it within the TTL. Every cycle, or a change while incidents are open, brings
        follow-up calls (resolution, worsening); a heartbeat or a first look at a quiet cluster
        is followed by hours of silence, longer than any TTL.
        """
        if self.reason is CallReason.EVERY_CYCLE:
            return True
        if self.reason in (CallReason.HEARTBEAT, CallReason.FIRST):
            return False
        return bool(update.open)


def incident_signature(incident: Incident) -> str:
    """Severity, reason, affected objects and the evidence that does not move by itself."""
    finding = incident.finding
    material = _material(finding.evidence)
    payload: dict[str, Any] = {
        "severity": finding.severity.value,
        "reason": finding.reason,
        "objects": sorted(str(o) for o in finding.objects),
        "evidence": material,
    }
    raw = orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


def _material(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _material(item)
            for key, item in value.items()
            if not any(marker in str(key).lower() for marker in _VOLATILE_MARKERS)
        }
    if isinstance(value, list | tuple):
        return [_material(item) for item in value]
    return value


def signatures_of(update: LedgerUpdate) -> dict[str, str]:
    return {i.fingerprint: incident_signature(i) for i in update.open}


def decide(
    update: LedgerUpdate, state: CallState, *, policy: CallPolicy, heartbeat_cycles: int
) -> CallDecision:
    """Whether this cycle asks the model, and why. Pure: no clock, no I/O."""
    reason = _reason(update, state, policy=policy, heartbeat_cycles=heartbeat_cycles)
    if reason is CallReason.QUIET:
        return CallDecision(False, reason)
    return CallDecision(True, reason, state.quiet)


def _reason(
    update: LedgerUpdate, state: CallState, *, policy: CallPolicy, heartbeat_cycles: int
) -> CallReason:
    if policy is CallPolicy.EVERY_CYCLE:
        return CallReason.EVERY_CYCLE
    if state.last_call_cycle is None:
        return CallReason.FIRST
    for reason, incidents in (
        (CallReason.NEW, update.new),
        (CallReason.RESOLVED, update.resolved),
        (CallReason.FLAPPING, update.flapping),
    ):
        if incidents:
            return reason
    if any(i.trend is Trend.WORSENING for i in update.recurring):
        return CallReason.WORSENING
    if signatures_of(update) != state.signatures:
        return CallReason.CHANGED
    if update.cycle - state.last_call_cycle >= heartbeat_cycles:
        return CallReason.HEARTBEAT
    return CallReason.QUIET


def after_answer(update: LedgerUpdate) -> CallState:
    """The state once the model answered this cycle."""
    return CallState(last_call_cycle=update.cycle, signatures=signatures_of(update))


def after_quiet(state: CallState, cycle: int) -> CallState:
    """The state after a quiet cycle (a failed call leaves the state as it was)."""
    first = state.quiet[0] if state.quiet is not None else cycle
    return CallState(state.last_call_cycle, state.signatures, (first, cycle))


def quiet_line(quiet_cycles: tuple[int, int] | None) -> str | None:
    """The one line a turn carries for the cycles the model was not asked about."""
    if quiet_cycles is None:
        return None
    first, last = quiet_cycles
    span = f"cycle {first}" if first == last else f"cycles {first}-{last}"
    return f"{span} quiet, no change (not sent to you; the ledger covers them)."


class CallGate:
    """The policy with its state, for one long-lived conversation (cycle runner, comparisons)."""

    def __init__(self, policy: CallPolicy, heartbeat_cycles: int) -> None:
        self.policy = policy
        self.heartbeat_cycles = heartbeat_cycles
        self.state = CallState()

    def decide(self, update: LedgerUpdate) -> CallDecision:
        return decide(
            update, self.state, policy=self.policy, heartbeat_cycles=self.heartbeat_cycles
        )

    def answered(self, update: LedgerUpdate) -> None:
        self.state = after_answer(update)

    def skipped(self, update: LedgerUpdate) -> None:
        self.state = after_quiet(self.state, update.cycle)


def quiet_outcome(data: ConverseInput, mode: str) -> ConverseOutcome:
    """A cycle the policy kept from the model: the deterministic analysis, at no cost."""
    return ConverseOutcome(
        analysis=deterministic_analysis(data, reason="no change since the model's last answer"),
        source=AnalysisSource.QUIET,
        mode=mode,
    )
