"""Builders for cycle contexts and a small session-store double (llm and converse tests)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.cluster.snapshot import ClusterSnapshot, LogTail
from k8s_monitor.converse.context import CycleContext
from k8s_monitor.sessions.tokens import TokenCounter
from tests.builders import T0


class CycleFeed:
    """Successive cycle contexts with a real ledger, as the cycle stage would build them."""

    def __init__(self, cluster: str = "test-cluster") -> None:
        self.ledger = Ledger()
        self.cluster = cluster

    def next(
        self, findings: list[Finding], *, log_tails: list[LogTail] | None = None
    ) -> CycleContext:
        now = T0 + timedelta(minutes=15 * self.ledger.cycle)
        self.ledger, update = update_ledger(self.ledger, findings, now=now)
        snapshot = ClusterSnapshot(
            cluster=self.cluster, collected_at=now, log_tails=log_tails or []
        )
        return CycleContext(
            cycle=update.cycle,
            now=now,
            cluster=self.cluster,
            snapshot=snapshot,
            findings=findings,
            update=update,
            ledger=self.ledger,
        )


class PruneOut:
    def __init__(self, history: list[dict[str, Any]], dropped: int, before: int, after: int):
        self.history = history
        self.dropped_count = dropped
        self.compacted = dropped > 0
        self.tokens_before = before
        self.tokens_after = after


class FileSessions:
    """A minimal file-backed store with the SessionManager contract (atomic replace)."""

    def __init__(self, directory: Path, *, prune_at_messages: int = 10_000) -> None:
        self.directory = directory
        self.prune_at_messages = prune_at_messages
        self.saves = 0
        self.prunes = 0
        self.token_counter = TokenCounter()

    def count_tokens(self, history):
        return self.token_counter.count(history)

    def calibrate(self, sent_history, actual_input_tokens):
        return self.token_counter.calibrate(sent_history, actual_input_tokens)

    def path(self, session_id: str) -> Path:
        return self.directory / f"{session_id}.json"

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        path = self.path(session_id)
        return json.loads(path.read_text()) if path.exists() else None

    def save_session(self, session_id, conversation_history, metadata=None, *, state=None):
        self.saves += 1
        payload = {
            "session_id": session_id,
            "conversation_history": copy.deepcopy(conversation_history),
            "metadata": metadata or {},
            "state": state or {},
        }
        tmp = self.path(session_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(self.path(session_id))

    def should_prune(self, history: list[dict[str, Any]]) -> bool:
        return len(history) > self.prune_at_messages

    def prune_to_budget(self, history, *, ledger=None):
        self.prunes += 1
        kept = history[-4:]
        summary = {
            "role": "user",
            "content": "summary of earlier cycles",
            "meta": {"kind": "compaction"},
        }
        ack = {"role": "assistant", "content": "ok", "meta": {"kind": "compaction_ack"}}
        new = [summary, ack, *kept]
        return PruneOut(new, len(history) - len(kept), len(history), len(new))
