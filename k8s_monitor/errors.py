"""The one error hierarchy of k8s-monitor.

Every stage raises one of these, wrapping the original cause with ``raise ... from``, so the
daemon can decide by type alone whether a failure ends the process, fails one cycle, or is
retried. Nothing here matches on message text.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error k8s-monitor raises on purpose."""


# --- configuration: stops the program at start, exit code 2 ----------------------------------


class ConfigurationError(MonitorError):
    """A setting or a file named by a setting is invalid. Fatal at start."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


# --- cluster ---------------------------------------------------------------------------------


class ClusterError(MonitorError):
    """Reading the cluster failed as a whole (the apiserver is unreachable, auth failed)."""


class ClusterUnreachableError(ClusterError):
    """No answer from the apiserver: the cycle fails, the daemon keeps going."""


class ClusterAuthError(ClusterError):
    """The apiserver refused our credentials (401), as opposed to an RBAC gap on one resource."""


class ClusterLookupError(ClusterError):
    """One bounded lookup (a tool call) failed; the message is what the model is told."""


class ObjectNotFoundError(ClusterLookupError):
    """404: the object (or the container's previous log) does not exist."""


class AccessDeniedError(ClusterLookupError):
    """403 (or 401): RBAC does not grant this read; the message names the rule to add."""


class SecretRefusedError(AccessDeniedError):
    """A lookup asked for a Secret: refused before any request is made."""


class GoneError(ClusterLookupError):
    """410: the resource version or object is gone (compacted, deleted and recreated)."""


class LookupTimeoutError(ClusterLookupError):
    """The apiserver did not answer within the lookup timeout."""


class LookupUnavailableError(ClusterLookupError):
    """No usable answer: the connection failed, or 429/5xx twice."""


class UnknownKindError(ClusterLookupError):
    """A kind the lookup does not know (or does not read)."""


class BadRequestError(ClusterLookupError):
    """400: the apiserver rejected the request (a container name, a log option)."""


class BadSelectorError(BadRequestError):
    """A label or field selector that is malformed or not supported for the kind."""


# --- model -----------------------------------------------------------------------------------


class ModelError(MonitorError):
    """A call to the model failed. ``retryable`` tells the caller whether trying again helps."""

    retryable: bool = False

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class ModelRetryableError(ModelError):
    """Rate limits, overload, timeouts: the next cycle may succeed."""

    retryable = True


class ModelFatalError(ModelError):
    """The provider cannot be used until the configuration changes (auth, spend limit)."""


class ModelRequestError(ModelError):
    """The API rejected this request (400); the cycle falls back to the deterministic report."""


class ContextTooLongError(ModelRequestError):
    """The prompt exceeded the model's context window: prune harder and retry once."""


class ModelAnswerError(ModelError):
    """The model answered, but not in the structured form we asked for."""


# --- storage ---------------------------------------------------------------------------------


class StorageError(MonitorError):
    """Reading or writing state on disk failed (disk full, I/O error, read-only)."""


class SessionCorruptError(StorageError):
    """A session file failed to parse, verify or validate. It is quarantined, never overwritten."""


class SessionSchemaError(StorageError):
    """A session file was written by a newer schema version than this program understands."""


class SessionLockedError(StorageError):
    """Another live process holds the session's lock."""


class SessionDecryptError(StorageError):
    """A session is encrypted and none of the configured keys opens it."""


class InvalidSessionIdError(StorageError, ValueError):
    """A session id outside ``[A-Za-z0-9._-]{1,128}``."""


# --- notifications ---------------------------------------------------------------------------


class NotificationError(MonitorError):
    """A sink failed to deliver; the message is spooled and retried next cycle."""
