"""The log pipeline: JSON in the pod, cycle identity on every line, secrets never printed."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from k8s_monitor.config import LogFormat
from k8s_monitor.logs import bound_cycle, configure_logging


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_the_bound_cycle() -> None:
    stream = io.StringIO()  # not a TTY: auto picks JSON
    configure_logging("INFO", LogFormat.AUTO, stream=stream)
    log = structlog.get_logger("test")
    with bound_cycle(7, "sess-a", "persistent"):
        log.info("inside", findings=3)
    log.info("outside")
    inside, outside = _lines(stream)
    assert inside["event"] == "inside"
    assert (inside["cycle"], inside["session_id"], inside["mode"]) == (7, "sess-a", "persistent")
    assert inside["findings"] == 3 and inside["level"] == "info" and "timestamp" in inside
    assert "cycle" not in outside


def test_library_loggers_go_through_the_same_pipeline() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream=stream)
    logging.getLogger("urllib3.connectionpool").warning("Retrying %s", "GET /api")
    logging.getLogger("urllib3.connectionpool").info("chatty detail")  # below the library level
    lines = _lines(stream)
    assert [line["event"] for line in lines] == ["Retrying GET /api"]
    assert lines[0]["logger"] == "urllib3.connectionpool"


def test_redaction_applies_to_every_string_field() -> None:
    stream = io.StringIO()
    configure_logging(
        "INFO", LogFormat.JSON, stream=stream, redact=lambda s: s.replace("hunter2", "[REDACTED]")
    )
    structlog.get_logger("t").error("login failed password hunter2", detail={"pw": ["hunter2"]})
    logging.getLogger("kubernetes").warning("token hunter2 rejected")
    text = stream.getvalue()
    assert "hunter2" not in text
    assert text.count("[REDACTED]") == 3


def test_console_format_is_readable() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.CONSOLE, stream=stream)
    structlog.get_logger("t").info("cycle_completed", health="critical")
    text = stream.getvalue()
    assert "cycle_completed" in text and "health=critical" in text
    assert not text.lstrip().startswith("{")


def _fail_holding_a_token(message: str) -> None:
    credential = "local-value-no-pattern-would-match"  # noqa: F841 - a frame local, on purpose
    raise RuntimeError(message)


@pytest.mark.parametrize("fmt", [LogFormat.JSON, LogFormat.CONSOLE])
def test_exceptions_are_redacted_and_never_show_frame_locals(fmt: LogFormat) -> None:
    from k8s_monitor.redaction import Redactor

    stream = io.StringIO()
    configure_logging("INFO", fmt, stream=stream, redact=Redactor().redact)
    planted = "postgres://app:Sup3rS3cretPw@db:5432/app password=hunter2hunter2"
    try:
        _fail_holding_a_token(planted)
    except RuntimeError:
        structlog.get_logger("t").exception("cycle_crashed")
    try:
        _fail_holding_a_token(planted)
    except RuntimeError:
        logging.getLogger("apscheduler.executors").exception("job raised")
    text = stream.getvalue()
    assert text.count("RuntimeError") >= 2  # the exceptions are there...
    assert "_fail_holding_a_token" in text  # ...with their frames
    assert "Sup3rS3cretPw" not in text and "hunter2hunter2" not in text
    assert "local-value-no-pattern-would-match" not in text
