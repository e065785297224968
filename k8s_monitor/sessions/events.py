"""Names of what happens to sessions, counted in ``SessionManager.events`` (metrics read them)."""

EVENT_QUARANTINED = "session_quarantined"
EVENT_RECOVERED = "session_recovered"
EVENT_UNRECOVERABLE = "session_unrecoverable"
EVENT_BACKUP_FAILED = "session_backup_failed"
EVENT_LOCK_TAKEN_OVER = "session_lock_taken_over"
EVENT_PRUNED = "session_pruned"
SESSION_EVENTS = (
    EVENT_QUARANTINED,
    EVENT_RECOVERED,
    EVENT_UNRECOVERABLE,
    EVENT_BACKUP_FAILED,
    EVENT_LOCK_TAKEN_OVER,
    EVENT_PRUNED,
)
