"""The notifier: decides what to send this cycle, sends it, and spools what fails.

Order of one ``dispatch``: retry the spool first (oldest first), then SEV-1/2 alerts one by one,
one SEV-3 digest, a "resolved" notice for notified incidents that cleared; SEV-4 is only logged.
An incident is notified again only when its level rises or the cooldown has passed. Messages go
to the spool (an outbox) and the dedup state is saved before anything is sent; a message a sink
cannot take after retries stays there with its idempotency key, so the next cycle delivers that
same message instead of building a second one, and a crash mid-send loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from msgspec import Struct

from k8s_monitor.analysis.escalation import Escalation, Sev
from k8s_monitor.analysis.incidents import Incident, IncidentStatus
from k8s_monitor.errors import NotificationError, StorageError
from k8s_monitor.notify.dedup import DedupState, DedupStore
from k8s_monitor.notify.messages import (
    Notification,
    NotificationContext,
    alert,
    digest,
    resolved_notice,
)
from k8s_monitor.notify.sinks import DeliveryRejectedError, LogSink, Sink
from k8s_monitor.notify.spool import Spool, SpoolEntry
from k8s_monitor.redaction import GUARD

log = structlog.get_logger(__name__)

STATE_FILE = "notify-state.json"
PENDING_DIR = "pending"
# A message a receiver rejected (4xx) this many times is dropped, loudly: it is poison.
MAX_REJECTIONS = 5

# A sink found down is skipped (its messages spooled) for this long, across dispatches: the
# cycle dispatches twice (urgent pages first, then the rest) and must not pay the retry
# budget of a dead receiver twice.
SINK_HOLD = timedelta(seconds=30)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.base_delay * (2**attempt), self.max_delay))


class DispatchResult(Struct, kw_only=True):
    sent: int = 0  # new messages delivered to a remote sink
    redelivered: int = 0  # spooled messages delivered this cycle
    spooled: int = 0  # new messages put in the spool this cycle
    pending: int = 0  # messages waiting in the spool after this cycle
    suppressed: int = 0  # escalations inside their cooldown
    logged: int = 0  # SEV-4: log only
    resolved: int = 0  # incidents announced as resolved
    dropped: int = 0  # spool overflow or rejected too often
    lost: int = 0  # neither delivered nor spooled (the spool's disk failed)

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__struct_fields__}


@dataclass
class _Cycle:
    """Per-dispatch bookkeeping: sinks found down are not retried again this cycle."""

    result: DispatchResult
    down: set[str] = field(default_factory=set)


class Notifier:
    def __init__(
        self,
        sinks: list[Sink],
        spool_dir: Path,
        *,
        cooldown: timedelta = timedelta(minutes=60),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sinks = [s for s in sinks if s.name != LogSink.name]
        self.log_sink = LogSink()
        self.spool = Spool(spool_dir / PENDING_DIR)
        self.state_store = DedupStore(spool_dir / STATE_FILE)
        self.cooldown = cooldown
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._down_until: dict[str, datetime] = {}

    @property
    def sink_names(self) -> list[str]:
        return [self.log_sink.name, *(s.name for s in self.sinks)]

    def dispatch(
        self,
        escalations: list[Escalation],
        *,
        resolved: list[Incident],
        context: NotificationContext,
        now: datetime | None = None,
    ) -> DispatchResult:
        now = now or self._clock()
        cycle = _Cycle(result=DispatchResult(), down=self._sinks_on_hold(now))
        try:
            return self._dispatch(escalations, resolved, context, now, cycle)
        finally:
            self._down_until = {n: t for n, t in self._down_until.items() if t > now}
            for name in cycle.down:
                self._down_until.setdefault(name, now + SINK_HOLD)

    def _sinks_on_hold(self, now: datetime) -> set[str]:
        return {name for name, until in self._down_until.items() if until > now}

    def _dispatch(
        self,
        escalations: list[Escalation],
        resolved: list[Incident],
        context: NotificationContext,
        now: datetime,
        cycle: _Cycle,
    ) -> DispatchResult:
        state = self.state_store.load()
        for _, entry in self.spool.pending():
            state.absorb(entry.message)
        messages = self._plan(escalations, resolved, context, now, state, cycle.result)
        try:
            self._retry_spool(cycle)
            # Write-ahead: the outbox and the dedup state are on disk before anything is sent.
            staged = [self._stage(message, now) for message in messages]
            state.prune(now)
            self.state_store.save(state)
        except StorageError as exc:
            # A broken disk must not silence a page: send now, without the safety net.
            log.error("notify_outbox_unavailable", error=str(exc))
            self._deliver_unstaged(messages, cycle)
            self._save_state_best_effort(state, now)
            return cycle.result
        for message, entries in zip(messages, staged, strict=True):
            self.log_sink.send(message)
            for path, entry in entries:
                self._deliver_staged(path, entry, cycle)
        cycle.result.dropped += self.spool.trim()
        cycle.result.pending = len(self.spool)
        log.info("notifications_dispatched", cycle=context.cycle, **cycle.result.counts)
        return cycle.result

    # --- deciding ------------------------------------------------------------------------------

    def _plan(
        self,
        escalations: list[Escalation],
        resolved: list[Incident],
        context: NotificationContext,
        now: datetime,
        state: DedupState,
        result: DispatchResult,
    ) -> list[Notification]:
        immediate: list[Escalation] = []
        batched: list[Escalation] = []
        for escalation in sorted(escalations, key=lambda e: (e.sev, e.fingerprint)):
            if escalation.sev is Sev.SEV4:
                result.logged += 1
                log.info(
                    "incident_log_only",
                    fingerprint=escalation.fingerprint,
                    reason=escalation.finding.reason,
                    subject=str(escalation.finding.subject),
                )
                continue
            flapping = escalation.incident.status is IncidentStatus.FLAPPING
            if not state.should_notify(
                escalation.fingerprint, escalation.sev, now, self.cooldown, flapping=flapping
            ):
                result.suppressed += 1
                continue
            (immediate if escalation.sev.immediate else batched).append(escalation)
            state.mark(escalation.fingerprint, escalation.sev, now)
        messages = [alert(e, context, now) for e in immediate]
        if batched:
            messages.append(digest(batched, context, now))
        cleared = [
            (incident, seen.sev)
            for incident in resolved
            if (seen := state.resolve(incident.fingerprint)) is not None
        ]
        if cleared:
            result.resolved += len(cleared)
            messages.append(resolved_notice(cleared, context, now))
        # Before the spool and every sink: what goes out is checked once, on decoded text.
        return [GUARD.struct("notification", message) for message in messages]

    # --- delivering ----------------------------------------------------------------------------

    def _stage(self, message: Notification, now: datetime) -> list[tuple[Path, SpoolEntry]]:
        entries = [SpoolEntry(sink=s.name, message=message, spooled_at=now) for s in self.sinks]
        return [(self.spool.put(entry), entry) for entry in entries]

    def _save_state_best_effort(self, state: DedupState, now: datetime) -> None:
        state.prune(now)
        try:
            self.state_store.save(state)
        except StorageError as exc:
            log.error("notify_state_unsaved", error=str(exc))

    def _deliver_unstaged(self, messages: list[Notification], cycle: _Cycle) -> None:
        for message in messages:
            self.log_sink.send(message)
            for sink in self.sinks:
                if (
                    sink.name not in cycle.down
                    and self._send_with_retries(sink, message).error is None
                ):
                    cycle.result.sent += 1
                    continue
                cycle.down.add(sink.name)
                cycle.result.lost += 1
                log.error("notification_lost", sink=sink.name, key=message.key)

    def _deliver_staged(self, path: Path, entry: SpoolEntry, cycle: _Cycle) -> None:
        sink = next(s for s in self.sinks if s.name == entry.sink)
        if sink.name in cycle.down:
            outcome = _Outcome(error="sink down earlier this cycle")
        else:
            outcome = self._send_with_retries(sink, entry.message)
        if outcome.error is None:
            self.spool.remove(path)
            cycle.result.sent += 1
            return
        if not outcome.rejected:
            cycle.down.add(sink.name)
        entry.attempts += 1
        entry.rejections += int(outcome.rejected)
        entry.last_error = outcome.error
        self.spool.update(path, entry)
        cycle.result.spooled += 1
        log.warning(
            "notification_spooled", sink=sink.name, key=entry.message.key, error=outcome.error
        )

    def _send_with_retries(self, sink: Sink, message: Notification) -> _Outcome:
        """Try with backoff; errors carry no secrets (the sinks never put URLs in them)."""
        error = "not attempted"
        for attempt in range(max(self.retry.attempts, 1)):
            if attempt:
                self._sleep(self.retry.delay(attempt - 1))
            try:
                sink.send(message)
            except DeliveryRejectedError as exc:
                return _Outcome(error=str(exc), rejected=True)  # same bytes, same answer
            except NotificationError as exc:
                error = str(exc)
                log.info("notification_retry", sink=sink.name, attempt=attempt + 1, error=error)
            else:
                return _Outcome()
        return _Outcome(error=error)

    def _retry_spool(self, cycle: _Cycle) -> None:
        by_name = {s.name: s for s in self.sinks}
        for path, entry in self.spool.pending():
            sink = by_name.get(entry.sink)
            if sink is None or sink.name in cycle.down:
                continue  # sink not configured now, or down: keep the message for later
            outcome = self._send_with_retries(sink, entry.message)
            if outcome.error is None:
                self.spool.remove(path)
                cycle.result.redelivered += 1
                log.info("spooled_notification_delivered", sink=sink.name, key=entry.message.key)
                continue
            entry.attempts += 1
            entry.rejections += int(outcome.rejected)
            entry.last_error = outcome.error
            if entry.rejections >= MAX_REJECTIONS:
                self.spool.remove(path)
                cycle.result.dropped += 1
                log.error(
                    "spooled_notification_dropped",
                    sink=sink.name,
                    key=entry.message.key,
                    rejections=entry.rejections,
                )
                continue
            self.spool.update(path, entry)
            if not outcome.rejected:
                cycle.down.add(sink.name)


@dataclass(frozen=True)
class _Outcome:
    error: str | None = None
    rejected: bool = False
