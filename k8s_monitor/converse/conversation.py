"""The two conversation strategies: stateless cycles and one persistent, saved conversation.

Persistent mode follows the mission's order: load the session, build the cycle message, call
the model, append the turn, smart-prune when ``should_prune`` says so, save. The turn is atomic:
the session is written once, after the answer validated; any failure before that leaves the file
on disk byte-identical. Stateless mode never touches the session, so switching
``ENABLE_LONG_CONTEXT`` off and on again never destroys it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from k8s_monitor.config import Settings
from k8s_monitor.converse.answer import AnalysisSource
from k8s_monitor.converse.engine import Answer, Asker, Meter, describe
from k8s_monitor.converse.investigation import Investigator, ToolRun, plan_for, root_causes
from k8s_monitor.converse.offline import deterministic_analysis
from k8s_monitor.converse.outcome import ConverseInput, ConverseOutcome
from k8s_monitor.converse.prompts import PROMPT_VERSION, SYSTEM_PROMPT
from k8s_monitor.converse.render import MessageKind, render_cycle_message
from k8s_monitor.converse.store import SessionStore
from k8s_monitor.errors import ContextTooLongError, ModelError, ModelFatalError
from k8s_monitor.investigate.tools import FindingView
from k8s_monitor.llm.accounting import usage_from_dict, usage_to_dict
from k8s_monitor.redaction import Redact
from k8s_monitor.report import ModelUsage
from k8s_monitor.sessions.tokens import TokenCounter

log = structlog.get_logger(__name__)

STATE_KEY = "converse"
KIND_CYCLE_FULL = "cycle_full"
KIND_CYCLE_DELTA = "cycle_delta"
KIND_ANALYSIS = "analysis"
_SYSTEM_ENTRY: dict[str, Any] = {"role": "system", "content": SYSTEM_PROMPT}
_CLOSE_WAIT_SECONDS = 30.0


class _Base:
    mode = "stateless"

    def __init__(
        self,
        settings: Settings,
        asker: Asker | None,
        *,
        redact: Redact,
        estimator: TokenCounter,
        investigator: Investigator | None = None,
    ) -> None:
        self._settings = settings
        self._asker = asker
        self._redact = redact
        self._estimator = estimator
        self._investigator = investigator
        self._turn_lock = threading.Lock()
        self._closed = False

    @property
    def provider_name(self) -> str:
        return self._asker.provider.name if self._asker is not None else "offline"

    def close(self) -> None:
        """Wait for a turn in flight to finish, then release the client."""
        acquired = self._turn_lock.acquire(timeout=_CLOSE_WAIT_SECONDS)
        try:
            if not self._closed and self._asker is not None:
                self._asker.provider.close()
            self._closed = True
        finally:
            if acquired:
                self._turn_lock.release()

    def _budget(self) -> int:
        # The renderer counts chars/4; scale so the budget holds in real tokens.
        return max(1, int(self._settings.cycle_message_max_tokens / self._estimator.ratio))

    def _ratio(self, tokens: int) -> float:
        return round(tokens / self._settings.max_context_tokens, 4)

    def _fallback(
        self,
        data: ConverseInput,
        exc: ModelError,
        meter: Meter,
        *,
        was_disabled: bool,
        context_tokens: int,
    ) -> ConverseOutcome:
        alert = None
        if isinstance(exc, ModelFatalError) and not was_disabled:
            alert = (
                f"Model provider {self.provider_name} disabled until restart or configuration "
                f"change: {exc}. Reports continue from the deterministic analysis."
            )
        return ConverseOutcome(
            analysis=deterministic_analysis(
                data, reason=f"model unavailable: {type(exc).__name__}"
            ),
            source=AnalysisSource.FALLBACK,
            mode=self.mode,
            usage=meter.usage,
            error=describe(exc),
            alert=alert,
            context_tokens=context_tokens,
            context_ratio=self._ratio(context_tokens),
            request_id=exc.request_id or meter.request_id,
            latency_seconds=meter.latency_seconds,
            model=self._asker.provider.model if self._asker else None,
        )

    def _model_outcome(
        self, answer: Answer, meter: Meter, *, tokens: int, data: ConverseInput
    ) -> ConverseOutcome:
        return ConverseOutcome(
            analysis=answer.analysis,
            source=AnalysisSource.MODEL,
            mode=self.mode,
            usage=meter.usage,
            context_tokens=tokens,
            context_ratio=self._ratio(tokens),
            request_id=meter.request_id,
            latency_seconds=meter.latency_seconds,
            model=answer.reply.model,
            root_causes=root_causes(
                answer.analysis,
                data,
                data.cycle,
                answer.investigation.incidents if answer.investigation else (),
            ),
            investigation=answer.investigation.to_json() if answer.investigation else None,
        )

    def _tool_run(self, data: ConverseInput) -> ToolRun | None:
        """The tools to offer this cycle (always defined, for a stable cached prefix)."""
        if self._investigator is None or self._asker is None:
            return None
        plan = plan_for(data, self._investigator.limits)
        view = FindingView(
            findings={f.fingerprint: f for f in data.findings}, incidents=data.ledger.incidents
        )
        return ToolRun(self._investigator, plan, view, data.cycle)

    def _section(self, run: ToolRun | None) -> str:
        if run is None:
            return ""
        return run.plan.section(run.investigator.limits)

    def _was_disabled(self) -> bool:
        return self._asker is not None and self._asker.disabled_reason is not None


class StatelessConversation(_Base):
    """Each cycle: system prompt + ledger digest + current state, nothing remembered here."""

    mode = "stateless"

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        with self._turn_lock:
            text = render_cycle_message(
                data, kind=MessageKind.STATELESS, budget_tokens=self._budget(), redact=self._redact
            )
            run = self._tool_run(data)
            section = self._section(run)
            if section:
                text = f"{text}\n\n{section}"
            history = [{"role": "user", "content": text}]
            estimate = self._estimator.text_tokens(len(SYSTEM_PROMPT) + len(text))
            if self._asker is None:
                return self._offline(data, estimate)
            meter = Meter()
            was_disabled = self._was_disabled()
            try:
                answer = self._asker.ask(
                    history,
                    known=data.known_fingerprints,
                    meter=meter,
                    cache_history=False,
                    tools=run,
                )
            except ModelError as exc:
                return self._fallback(
                    data, exc, meter, was_disabled=was_disabled, context_tokens=estimate
                )
            tokens = answer.reply.prompt_tokens + answer.reply.usage.output_tokens
            return self._model_outcome(answer, meter, tokens=tokens, data=data)

    def _offline(self, data: ConverseInput, estimate: int) -> ConverseOutcome:
        return ConverseOutcome(
            analysis=deterministic_analysis(data, reason="offline mode, no model configured"),
            source=AnalysisSource.OFFLINE,
            mode=self.mode,
            context_tokens=estimate,
            context_ratio=self._ratio(estimate),
        )


class PersistentConversation(_Base):
    """One conversation per session id, appended to every cycle and saved atomically."""

    mode = "persistent"

    def __init__(
        self,
        settings: Settings,
        asker: Asker | None,
        sessions: SessionStore,
        *,
        redact: Redact,
        estimator: TokenCounter,
        investigator: Investigator | None = None,
    ) -> None:
        super().__init__(
            settings, asker, redact=redact, estimator=estimator, investigator=investigator
        )
        self._sessions = sessions
        self._session_id = settings.session_id

    def converse(self, data: ConverseInput) -> ConverseOutcome:
        with self._turn_lock:
            return self._turn(data)

    # --- one turn ----------------------------------------------------------------------------

    def _turn(self, data: ConverseInput) -> ConverseOutcome:
        # Storage errors (unreadable, undecryptable, disk full) propagate: the cycle logs and
        # counts them per stage, and a failed save has left the previous file intact.
        loaded = self._sessions.load_session(self._session_id) or {}
        history: list[dict[str, Any]] = list(loaded.get("conversation_history") or [])
        metadata: dict[str, Any] = dict(loaded.get("metadata") or {})
        state: dict[str, Any] = dict(loaded.get("state") or {})
        mine: dict[str, Any] = dict(state.get(STATE_KEY) or {})

        pruned_before = False
        if self._over_limit(history):
            history, pruned_before = self._prune(history, data, reason="preflight"), True
        full = pruned_before or self._needs_full(history, mine)
        since = _parse_time(mine.get("last_at"))
        user = self._user_entry(data, full=full, missed=_missed(mine, data.cycle), since=since)

        tool_turns: list[dict[str, Any]] = []
        if self._asker is None:
            analysis = deterministic_analysis(data, reason="offline mode, no model configured")
            reply_text = analysis.model_dump_json()
            outcome = ConverseOutcome(
                analysis=analysis, source=AnalysisSource.OFFLINE, mode=self.mode
            )
        else:
            result = self._ask(data, history, user)
            if isinstance(result, ConverseOutcome):
                return result  # failed: nothing saved, the session file is untouched
            history, user, answer, meter, retried = result
            pruned_before = pruned_before or retried
            reply_text = answer.text
            tool_turns = answer.tool_turns
            exact = answer.reply.prompt_tokens + answer.reply.usage.output_tokens
            outcome = self._model_outcome(answer, meter, tokens=exact, data=data)

        assistant = {
            "role": "assistant",
            "content": reply_text,
            "meta": {"cycle": data.cycle, "at": data.now.isoformat(), "kind": KIND_ANALYSIS},
        }
        # The tool turns sit between the cycle message and the answer, as they were sent.
        new_history = [*history, user, *tool_turns, assistant]
        pruned_after = False
        if self._sessions.should_prune(new_history):
            new_history = self._prune(new_history, data, reason="threshold")
            pruned_after = True
        tokens = self._estimate_history(new_history)
        if outcome.source is AnalysisSource.MODEL and not pruned_after:
            tokens = max(tokens, outcome.context_tokens)
        mine.update(
            {
                "last_cycle": data.cycle,
                "last_at": data.now.isoformat(),
                "needs_full_state": pruned_after,
                "prompt_version": PROMPT_VERSION,
            }
        )
        state[STATE_KEY] = mine
        metadata.update(self._metadata(metadata, outcome.usage, data))
        self._sessions.save_session(self._session_id, new_history, metadata, state=state)
        outcome.session_saved = True
        outcome.pruned = pruned_before or pruned_after
        outcome.context_tokens = tokens
        outcome.context_ratio = self._ratio(tokens)
        return outcome

    def _ask(
        self, data: ConverseInput, history: list[dict[str, Any]], user: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any], Answer, Meter, bool] | ConverseOutcome:
        """The answer, or the fallback outcome; one forced prune and retry on context overflow."""
        assert self._asker is not None
        meter = Meter()
        was_disabled = self._was_disabled()
        known = data.known_fingerprints
        retried = False
        run = self._tool_run(data)
        section = self._section(run)
        user = _with_section(user, section)
        try:
            try:
                answer = self._asker.ask(
                    [*history, user], known=known, meter=meter, cache_history=True, tools=run
                )
            except ContextTooLongError as exc:
                log.warning("context_too_long", request_id=exc.request_id, reason=str(exc))
                history = self._prune(history, data, reason="context_too_long")
                user = _with_section(self._user_entry(data, full=True, missed=0), section)
                retried = True
                answer = self._asker.ask(
                    [*history, user], known=known, meter=meter, cache_history=True, tools=run
                )
        except ModelError as exc:
            tokens = self._estimate_history([*history, user])
            return self._fallback(
                data, exc, meter, was_disabled=was_disabled, context_tokens=tokens
            )
        return history, user, answer, meter, retried

    # --- pieces ----------------------------------------------------------------------------

    def _user_entry(
        self, data: ConverseInput, *, full: bool, missed: int, since: datetime | None = None
    ) -> dict[str, Any]:
        kind = MessageKind.FULL if full else MessageKind.DELTA
        text = render_cycle_message(
            data,
            kind=kind,
            budget_tokens=self._budget(),
            redact=self._redact,
            missed_cycles=missed,
            since=since,
        )
        fingerprints = sorted({i.fingerprint for i in data.ledger_update.open})
        return {
            "role": "user",
            "content": text,
            "meta": {
                "cycle": data.cycle,
                "at": data.now.isoformat(),
                "fingerprints": fingerprints,
                "kind": KIND_CYCLE_FULL if full else KIND_CYCLE_DELTA,
            },
        }

    @staticmethod
    def _needs_full(history: Sequence[dict[str, Any]], mine: dict[str, Any]) -> bool:
        if not history:
            return True
        if mine.get("prompt_version") != PROMPT_VERSION:
            return True
        return bool(mine.get("needs_full_state", False))

    def _limit(self) -> int:
        window = self._asker.context_window if self._asker is not None else None
        limit = self._settings.max_context_tokens
        if window is not None:
            limit = min(limit, window)
        return (
            limit - self._settings.llm_max_output_tokens - self._settings.cycle_message_max_tokens
        )

    def _over_limit(self, history: Sequence[dict[str, Any]]) -> bool:
        return bool(history) and self._estimate_history(history) > self._limit()

    def _prune(
        self, history: list[dict[str, Any]], data: ConverseInput, *, reason: str
    ) -> list[dict[str, Any]]:
        result = self._sessions.prune_to_budget(history, ledger=data.ledger)
        log.info(
            "session_pruned",
            reason=reason,
            dropped=result.dropped_count,
            compacted=result.compacted,
            tokens_before=result.tokens_before,
            tokens_after=result.tokens_after,
        )
        return list(result.history)

    def _estimate_history(self, history: Sequence[dict[str, Any]]) -> int:
        """Context tokens of ``history`` with the system prompt, by the session's counter."""
        return self._sessions.count_tokens([_SYSTEM_ENTRY, *history])

    def _metadata(
        self, metadata: dict[str, Any], usage: ModelUsage, data: ConverseInput
    ) -> dict[str, Any]:
        total = usage_from_dict(metadata.get("usage_total")) + usage
        cycles = metadata.get("cycles")
        return {
            "mode": self.mode,
            "provider": self.provider_name,
            "model": self._asker.provider.model if self._asker else None,
            "cluster": data.cluster,
            "last_cycle": data.cycle,
            "cycles": (cycles if isinstance(cycles, int) else 0) + 1,
            "usage_total": usage_to_dict(total),
            "usage_last": usage_to_dict(usage),
        }


def _with_section(user: dict[str, Any], section: str) -> dict[str, Any]:
    if not section:
        return user
    return {**user, "content": f"{user['content']}\n\n{section}"}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _missed(mine: dict[str, Any], cycle: int) -> int:
    last = mine.get("last_cycle")
    if not isinstance(last, int) or last >= cycle:
        return 0
    return cycle - last - 1
