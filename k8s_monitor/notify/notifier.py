"""The notifier: decides what to send this cycle, sends it, and spools what fails.

Order of one ``dispatch``: retry the spool first (oldest first), then every open incident as an
Alertmanager alert (when peers are configured: no cooldown, Alertmanager deduplicates), then
SEV-1/2 alerts one by one, one SEV-3 digest, a "resolved" notice for notified incidents that
cleared; SEV-4 is only logged. Before a chat message goes out, Alertmanager is asked which alerts
are silenced or inhibited: those are held, so one silence mutes every channel.
An incident is notified again only when its level rises or the cooldown has passed. Messages go
to the spool (an outbox) and the dedup state is saved before anything is sent; a message a sink
cannot take after retries stays there with its idempotency key, so the next cycle delivers that
same message instead of building a second one, and a crash mid-send loses nothing.
"""

from __future__ import annotations

import functools
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
from k8s_monitor.notify import alerts as am
from k8s_monitor.notify.alertmanager import SilenceOracle
from k8s_monitor.notify.dedup import Alerted, DedupState, DedupStore
from k8s_monitor.notify.messages import (
    AlertSpec,
    Kind,
    Notification,
    NotificationContext,
    alert,
    alerts_notice,
    digest,
    resolved_notice,
    root_cause_notice,
)
from k8s_monitor.notify.sinks import DeliveryRejectedError, LogSink, Sink
from k8s_monitor.notify.spool import Spool, SpoolEntry
from k8s_monitor.redaction import GUARD
from k8s_monitor.retry import RetryPolicy

log = structlog.get_logger(__name__)

STATE_FILE = "notify-state.json"
PENDING_DIR = "pending"
# A message a receiver rejected (4xx) this many times is dropped, loudly: it is poison.
MAX_REJECTIONS = 5

# A sink found down is skipped (its messages spooled) for this long, across dispatches: the
# cycle dispatches twice (urgent pages first, then the rest) and must not pay the retry
# budget of a dead receiver twice.
SINK_HOLD = timedelta(seconds=30)


class DispatchResult(Struct, kw_only=True):
    sent: int = 0  # new messages delivered to a remote sink
    redelivered: int = 0  # spooled messages delivered this cycle
    spooled: int = 0  # new messages put in the spool this cycle
    pending: int = 0  # messages waiting in the spool after this cycle
    suppressed: int = 0  # escalations inside their cooldown
    logged: int = 0  # SEV-4: log only
    resolved: int = 0  # incidents announced as resolved
    silenced: int = 0  # escalations held: their Alertmanager alert is silenced or inhibited
    alerts: int = 0  # alerts handed to Alertmanager (firing and resolved)
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
    early: bool = False


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
        alert_options: am.AlertOptions | None = None,
        silences: SilenceOracle | None = None,
    ) -> None:
        self.sinks = [s for s in sinks if s.name != LogSink.name]
        self.alert_options = alert_options
        self.silences = silences
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
        early: bool = False,
    ) -> DispatchResult:
        """``early``: the urgent subset sent before the model answers; Alertmanager then gets
        only alerts it does not have yet (the full dispatch of the cycle refreshes the rest)."""
        now = now or self._clock()
        cycle = _Cycle(result=DispatchResult(), down=self._sinks_on_hold(now), early=early)
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
        alerts = self._plan_alerts(escalations, resolved, context, now, state, cycle)
        unsent = [alerts] if alerts is not None else []

        def plan() -> list[Notification]:
            muted = self._muted_lookup(cycle)
            return self._plan(escalations, resolved, context, now, state, cycle.result, muted)

        ahead = [m for m in unsent if _ends_an_alert(m)]
        direct = [m for m in unsent if not _ends_an_alert(m)]
        try:
            self._retry_spool(cycle)
            # Write-ahead: resolutions are in the outbox before they are sent.
            staged_alerts = [pair for m in ahead for pair in self._stage(m, now)]
        except StorageError as exc:
            return self._without_outbox(exc, unsent, plan, state, now, cycle)
        for path, entry in staged_alerts:
            self._deliver_staged(path, entry, cycle)
        for message in direct:
            self._deliver_then_spool(message, now, cycle)
        # Alertmanager has this cycle's alerts now, so it can say which of them are silenced.
        messages = plan()
        try:
            # Write-ahead: the outbox and the dedup state are on disk before anything is sent.
            staged = [self._stage(message, now) for message in messages]
            state.prune(now)
            self.state_store.save(state)
        except StorageError as exc:
            return self._without_outbox(exc, [], lambda: messages, state, now, cycle)
        for message, entries in zip(messages, staged, strict=True):
            self.log_sink.send(message)
            for path, entry in entries:
                self._deliver_staged(path, entry, cycle)
        cycle.result.dropped += self.spool.trim()
        cycle.result.pending = len(self.spool)
        log.info("notifications_dispatched", cycle=context.cycle, **cycle.result.counts)
        return cycle.result

    def _without_outbox(
        self,
        exc: StorageError,
        unsent: list[Notification],
        plan: Callable[[], list[Notification]],
        state: DedupState,
        now: datetime,
        cycle: _Cycle,
    ) -> DispatchResult:
        """A broken disk must not silence a page: send now, without the safety net."""
        log.error("notify_outbox_unavailable", error=str(exc))
        self._deliver_unstaged(unsent, cycle)
        self._deliver_unstaged(plan(), cycle)
        self._save_state_best_effort(state, now)
        return cycle.result

    def _muted_lookup(self, cycle: _Cycle) -> Callable[[], frozenset[str]]:
        """Asked at most once a dispatch, and only when a chat message is about to be planned."""

        @functools.cache
        def muted() -> frozenset[str]:
            if self.silences is None:
                return frozenset()
            found = self.silences.muted(skip=cycle.down)
            return frozenset(found) if found is not None else frozenset()

        return muted

    # --- deciding ------------------------------------------------------------------------------

    def _plan(
        self,
        escalations: list[Escalation],
        resolved: list[Incident],
        context: NotificationContext,
        now: datetime,
        state: DedupState,
        result: DispatchResult,
        muted: Callable[[], frozenset[str]] = frozenset,
    ) -> list[Notification]:
        immediate: list[Escalation] = []
        batched: list[Escalation] = []
        explaining: list[Escalation] = []
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
            explained = escalation.incident.root_cause is not None
            if not state.should_notify(
                escalation.fingerprint, escalation.sev, now, self.cooldown, flapping=flapping
            ):
                if explained and state.awaits_root_cause(escalation.fingerprint):
                    explaining.append(escalation)  # paged before the model found why
                    state.mark_explained(escalation.fingerprint)
                else:
                    result.suppressed += 1
                continue
            if escalation.fingerprint in muted():
                # Not marked as notified: when the silence ends, the next cycle notifies.
                result.silenced += 1
                log.info(
                    "notification_held_by_silence",
                    fingerprint=escalation.fingerprint,
                    reason=escalation.finding.reason,
                )
                continue
            (immediate if escalation.sev.immediate else batched).append(escalation)
            state.mark(escalation.fingerprint, escalation.sev, now, explained=explained)
        messages = [alert(e, context, now) for e in immediate]
        if batched:
            messages.append(digest(batched, context, now))
        if explaining:
            messages.append(root_cause_notice(explaining, context, now))
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

    def _plan_alerts(
        self,
        escalations: list[Escalation],
        resolved: list[Incident],
        context: NotificationContext,
        now: datetime,
        state: DedupState,
        cycle: _Cycle,
    ) -> Notification | None:
        """Every open incident firing, every resolved one ended; None without Alertmanager."""
        options = self.alert_options
        if options is None or not any(Kind.ALERTS in s.kinds for s in self.sinks):
            return None
        specs: list[AlertSpec] = []
        for escalation in escalations:
            spec = am.firing(escalation, context, now, options)
            before = state.alerted.get(escalation.fingerprint)
            if cycle.early and before is not None and before.labels == spec.labels:
                continue  # Alertmanager has it, until well after this cycle's full dispatch
            if before is not None and before.labels != spec.labels:
                # New labels are a new alert to Alertmanager: end the old one (a level change).
                specs.append(am.resolved(before.labels, before.starts_at, now, options))
            state.alerted[escalation.fingerprint] = Alerted(
                labels=spec.labels, starts_at=spec.starts_at, at=now
            )
            specs.append(spec)
        for incident in resolved:
            sent = state.alerted.pop(incident.fingerprint, None)
            if sent is not None:
                specs.append(am.resolved(sent.labels, sent.starts_at, now, options))
        if not specs:
            return None
        cycle.result.alerts += len(specs)
        return alerts_notice(specs, context, now)

    # --- delivering ----------------------------------------------------------------------------

    def _sinks_for(self, message: Notification) -> list[Sink]:
        return [s for s in self.sinks if message.kind in s.kinds]

    def _stage(self, message: Notification, now: datetime) -> list[tuple[Path, SpoolEntry]]:
        entries = [
            SpoolEntry(sink=s.name, message=message, spooled_at=now)
            for s in self._sinks_for(message)
        ]
        return [(self.spool.put(entry), entry) for entry in entries]

    def _save_state_best_effort(self, state: DedupState, now: datetime) -> None:
        state.prune(now)
        try:
            self.state_store.save(state)
        except StorageError as exc:
            log.error("notify_state_unsaved", error=str(exc))

    def _deliver_unstaged(self, messages: list[Notification], cycle: _Cycle) -> None:
        for message in messages:
            if message.kind in self.log_sink.kinds:
                self.log_sink.send(message)
            for sink in self._sinks_for(message):
                if (
                    sink.name not in cycle.down
                    and self._send_with_retries(sink, message).error is None
                ):
                    cycle.result.sent += 1
                    continue
                cycle.down.add(sink.name)
                cycle.result.lost += 1
                log.error("notification_lost", sink=sink.name, key=message.key)

    def _deliver_then_spool(self, message: Notification, now: datetime, cycle: _Cycle) -> None:
        """Firing alerts only: they restate every open incident, and the next cycle restates
        them again, so a crash mid-send loses nothing and the write-ahead (an fsync of every
        alert, every cycle) is skipped. What a peer does not take is spooled all the same."""
        for sink in self._sinks_for(message):
            if sink.name in cycle.down:
                outcome = _Outcome(error="sink down earlier this cycle")
            else:
                outcome = self._send_with_retries(sink, message)
            if outcome.error is None:
                cycle.result.sent += 1
                continue
            if not outcome.rejected:
                cycle.down.add(sink.name)
            entry = SpoolEntry(
                sink=sink.name,
                message=message,
                spooled_at=now,
                attempts=1,
                rejections=int(outcome.rejected),
                last_error=outcome.error,
            )
            try:
                self.spool.put(entry)
            except StorageError as exc:
                cycle.result.lost += 1
                log.error("notification_lost", sink=sink.name, key=message.key, error=str(exc))
                continue
            cycle.result.spooled += 1
            log.warning(
                "notification_spooled", sink=sink.name, key=message.key, error=outcome.error
            )

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


def _ends_an_alert(message: Notification) -> bool:
    """Resolutions are sent once: they go through the write-ahead outbox."""
    return any(alert.ends_at <= message.created_at for alert in message.alerts)


@dataclass(frozen=True)
class _Outcome:
    error: str | None = None
    rejected: bool = False
