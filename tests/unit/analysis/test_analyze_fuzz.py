"""Property: ``analyze --from-file`` never shows a traceback, whatever the file holds.

Dumps are generated as kubectl would shape them (a ``List`` of objects of every kind the
collector reads) with values of any JSON type, including nulls, wrong types, lone surrogates
and control characters, placed at the collector's own field paths; plus arbitrary JSON and
arbitrary bytes. Every outcome must be findings or a :class:`ConfigurationError` (one line,
exit 2). The fast form runs in ``make test``; the slow one runs 10,000 inputs.
"""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8s_monitor.cli.analyze import findings_from_file
from k8s_monitor.cluster.sanitize import string_fields
from k8s_monitor.cluster.snapshot import KINDS
from k8s_monitor.errors import ConfigurationError
from tests.builders import T0

NOW = T0 + timedelta(days=7)
# Text with what breaks naive code: lone surrogates, controls, terminal escapes, odd keys.
_ODD = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b[2J", "\x9b31m", "\r", "\u202e"])
TEXT = st.lists(st.one_of(st.text(max_size=12), _ODD), max_size=4).map("".join)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
    st.sampled_from(["2026-11-30T10:00:00Z", "True", "False", "Running", "CrashLoopBackOff"]),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=12,
)
PATHS = {kind: list(string_fields(struct)) for kind, (struct, _) in KINDS.items()}


@st.composite
def k8s_object(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(sorted(KINDS)))
    obj: dict[str, Any] = {"kind": draw(st.one_of(st.just(kind), SCALAR))}
    for path in draw(st.lists(st.sampled_from(PATHS[kind]), max_size=6)):
        _put(obj, path, draw(VALUE))
    if draw(st.booleans()):
        obj["metadata"] = draw(st.one_of(st.none(), VALUE))
    return obj


def _put(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = obj
    for part in path[:-1]:
        key = "k" if part in ("*", "{}") else part
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[key] = [child] if part == "*" else child
            child = node[key][0] if part == "*" else child
        node = child
    node[path[-1] if path[-1] not in ("*", "{}") else "k"] = value


DUMP = st.one_of(
    st.builds(
        lambda items, kind: {"kind": kind, "apiVersion": "v1", "items": items},
        st.lists(st.one_of(k8s_object(), SCALAR), max_size=5),
        st.sampled_from(["List", "PodList", "NodeList", "EventList", "Whatever"]),
    ),
    k8s_object(),
    VALUE,
)


def _analyze(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"dump{suffix}"
        path.write_bytes(data)
        try:
            findings = findings_from_file(path, now=NOW)
        except ConfigurationError as exc:
            assert "\n" not in str(exc), "the error is one line"
            return
        for finding in findings:
            # Whatever the dump held, what is printed is printable text.
            assert finding.message.encode("utf-8")
            assert "\x1b" not in finding.message


def _check_dump(dump: Any) -> None:
    _analyze(json.dumps(dump).encode(), ".json")


def _check_bytes(data: bytes) -> None:
    _analyze(data, ".yaml")


FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(DUMP)
def test_any_json_dump_gives_findings_or_one_line_error(dump: Any) -> None:
    _check_dump(dump)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_give_findings_or_one_line_error(data: bytes) -> None:
    _check_bytes(data)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(DUMP)
def test_ten_thousand_json_dumps_without_a_traceback(dump: Any) -> None:
    _check_dump(dump)
