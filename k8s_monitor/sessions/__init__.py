"""Sessions: the persistent conversation's memory, durable across restarts, crashes and bad files.

``SessionManager`` keeps the seed's API; ``prune_to_budget`` and ``PruneResult`` are what the
persistent conversation calls near the context limit. Nothing here imports a model client.
"""

from k8s_monitor.sessions.events import (
    EVENT_BACKUP_FAILED,
    EVENT_LOCK_TAKEN_OVER,
    EVENT_PRUNED,
    EVENT_QUARANTINED,
    EVENT_RECOVERED,
    EVENT_UNRECOVERABLE,
)
from k8s_monitor.sessions.lock import SessionLock
from k8s_monitor.sessions.manager import SessionManager
from k8s_monitor.sessions.pruning import PrunePolicy, PruneResult, normalize_for_api
from k8s_monitor.sessions.schema import SCHEMA_VERSION, validate_session_id
from k8s_monitor.sessions.tokens import CountFn, TokenCounter, api_view

__all__ = [
    "EVENT_BACKUP_FAILED",
    "EVENT_LOCK_TAKEN_OVER",
    "EVENT_PRUNED",
    "EVENT_QUARANTINED",
    "EVENT_RECOVERED",
    "EVENT_UNRECOVERABLE",
    "SCHEMA_VERSION",
    "CountFn",
    "PrunePolicy",
    "PruneResult",
    "SessionLock",
    "SessionManager",
    "TokenCounter",
    "api_view",
    "normalize_for_api",
    "validate_session_id",
]
