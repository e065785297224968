"""Logging: one structlog pipeline for our events and for the libraries' stdlib loggers.

In the pod (stdout is not a TTY) every line is one JSON object, which is what log shippers and
``kubectl logs | jq`` want; on a terminal the same events render for people. ``cycle``,
``session_id`` and ``mode`` are bound per cycle through contextvars, so every line a cycle
emits carries them without being passed around. Every string value passes redaction on its way
out: a last line of defence, since collection already redacts what it reads.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor, WrappedLogger

from k8s_monitor.config import LogFormat

# Libraries that are chatty at INFO; their warnings still come through.
_QUIET_LIBRARIES = {
    "kubernetes": logging.WARNING,
    "urllib3": logging.WARNING,
    "apscheduler": logging.WARNING,
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "httpcore": logging.WARNING,
    "anthropic": logging.WARNING,
}


# Values this pipeline writes itself: no secret can be in them, and a new timestamp per line
# would only churn the redaction memo.
_OWN_FIELDS = frozenset({"timestamp", "level", "logger"})


def redacting_processor(redact: Callable[[str], str]) -> Processor:
    """Redact every string in the event dict, nested ones included."""

    def process(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        return {
            key: value if key in _OWN_FIELDS else _redact_value(value, redact)
            for key, value in event_dict.items()
        }

    return process


def _redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, redact) for v in value]
    return value


def _json_dumps(value: MutableMapping[str, Any], **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    if fmt is LogFormat.AUTO:
        fmt = LogFormat.CONSOLE if stream.isatty() else LogFormat.JSON
    if fmt is LogFormat.CONSOLE:
        return structlog.dev.ConsoleRenderer(colors=stream.isatty())
    return structlog.processors.JSONRenderer(serializer=_json_dumps)


def _exception_renderer(renderer: Processor) -> Processor:
    """Tracebacks as a plain string on a terminal, as structured data in JSON; never locals.

    Frame locals hold whatever a function had in hand (keys, tokens, request bodies) in shapes
    no pattern recognises, so they are left out rather than redacted.
    """
    if isinstance(renderer, structlog.dev.ConsoleRenderer):
        return structlog.processors.format_exc_info
    return structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = LogFormat.AUTO,
    *,
    redact: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Install the pipeline on the root logger. Safe to call more than once."""
    out = stream or sys.stdout
    renderer = _renderer(fmt, out)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Exceptions become data here, before redaction, so their messages are redacted too;
        # the renderers would otherwise format them afterwards, frame locals included.
        _exception_renderer(renderer),
    ]
    if redact is not None:
        shared.append(redacting_processor(redact))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, library_level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(library_level, logging.getLevelName(level)))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


@contextmanager
def bound_cycle(cycle: int, session_id: str, mode: str) -> Iterator[None]:
    """Bind the cycle's identity to every log line emitted inside the block."""
    tokens = structlog.contextvars.bind_contextvars(cycle=cycle, session_id=session_id, mode=mode)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
