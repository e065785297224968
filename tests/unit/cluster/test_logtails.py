"""Log tails: which containers are chosen, and how tails are capped and redacted."""

from __future__ import annotations

import re

import msgspec

from k8s_monitor.cluster import resources as res
from k8s_monitor.cluster.logtails import LogTarget, select_targets, tail_from_response
from k8s_monitor.cluster.snapshot import Pod
from k8s_monitor.cluster.transport import Response
from k8s_monitor.redaction import Redactor
from tests.unit.cluster import objects as o
from tests.unit.cluster.conftest import MakeCollector
from tests.unit.cluster.fake_api import FakeState
from tests.unit.cluster.objects import NOW


def _pod(**kwargs: object) -> Pod:
    return msgspec.convert(o.pod(**kwargs), Pod)  # type: ignore[arg-type]


def test_selects_crashing_oom_and_failed_containers_only() -> None:
    pods = [
        _pod(name="ok"),
        _pod(
            name="crash",
            waiting="CrashLoopBackOff",
            last_reason="Error",
            last_exit=1,
            restarts=4,
            owner="a",
        ),
        _pod(name="oom", last_reason="OOMKilled", last_exit=137, restarts=1, owner="b"),
        _pod(name="job", terminated=("Error", 2), owner="c"),
        _pod(name="clean-exit", last_reason="Completed", last_exit=0, restarts=3, owner="d"),
    ]
    chosen = select_targets(pods, limit=10)
    assert [(t.pod, t.previous, t.priority) for t in chosen] == [
        ("oom", True, 0),
        ("crash", True, 1),
        ("job", False, 2),
    ]


def test_one_per_workload_first_then_the_rest() -> None:
    replicas = [
        _pod(
            name=f"web-{i}",
            waiting="CrashLoopBackOff",
            last_reason="Error",
            last_exit=1,
            restarts=10 + i,
            owner="web-rs",
        )
        for i in range(5)
    ]
    other = _pod(
        name="api-0",
        waiting="CrashLoopBackOff",
        last_reason="Error",
        last_exit=1,
        restarts=1,
        owner="api-rs",
    )
    chosen = select_targets([*replicas, other], limit=3)
    # The busiest replica of web, then api despite fewer restarts, then web again.
    assert [t.pod for t in chosen] == ["web-4", "api-0", "web-3"]
    assert select_targets([*replicas, other], limit=0) == []


def _target() -> LogTarget:
    return LogTarget(
        priority=1,
        restarts_desc=-1,
        namespace="ns",
        pod="p",
        container="c",
        previous=True,
        group="g",
    )


def test_tail_keeps_the_end_on_a_line_boundary_and_redacts() -> None:
    body = b"".join(b"line %04d\n" % i for i in range(1000)) + b"token=abc123secret9\n"
    tail = tail_from_response(_target(), Response(200, body), max_bytes=100, redactor=Redactor())
    assert tail.truncated
    assert len(tail.text.encode()) <= 100
    assert tail.text.startswith("line ") and tail.text.endswith("token=[REDACTED:token]\n")
    first = tail.text.split("\n")[0]
    assert re.fullmatch(r"line \d{4}", first)  # a whole first line, not a fragment


def test_short_tail_is_untouched() -> None:
    tail = tail_from_response(
        _target(), Response(200, b"a\nb\n"), max_bytes=100, redactor=Redactor()
    )
    assert (tail.text, tail.truncated) == ("a\nb\n", False)


def test_collector_fetches_previous_logs_capped(
    make_collector: MakeCollector, state: FakeState
) -> None:
    snap = make_collector(log_tail_lines=20, log_tail_bytes=80).collect(now=NOW)
    tails = {t.pod: t for t in snap.log_tails}
    assert set(tails) == {"web-1", "mem-1"}
    web = tails["web-1"]
    assert web.previous and web.truncated and len(web.text.encode()) <= 80
    assert "Pg5ecr3tPw" not in web.text and web.text.endswith("[REDACTED:database_url]@db:5432/x\n")
    log_queries = [q for path, q in state.requests if path.endswith("/log")]
    assert all(q["tailLines"] == ["20"] and q["previous"] == ["true"] for q in log_queries)


def test_at_most_n_containers_per_cycle(make_collector: MakeCollector, state: FakeState) -> None:
    snap = make_collector(log_tail_max_containers=1).collect(now=NOW)
    assert [t.pod for t in snap.log_tails] == ["mem-1"]  # OOM first
    assert sum(1 for path, _ in state.requests if path.endswith("/log")) == 1


def test_logs_forbidden_is_one_gap(make_collector: MakeCollector, state: FakeState) -> None:
    state.status["/api/v1/namespaces/web/pods/web-1/log"] = 403
    state.status["/api/v1/namespaces/web/pods/mem-1/log"] = 403
    snap = make_collector().collect(now=NOW)
    assert snap.log_tails == []
    assert [(g.resource, g.reason) for g in snap.gaps] == [("pods/log", "forbidden")]
    assert res.POD_LOGS_RULE in snap.gaps[0].fix


def test_missing_previous_log_is_skipped(make_collector: MakeCollector, state: FakeState) -> None:
    del state.logs[("web", "mem-1", "api", True)]
    snap = make_collector().collect(now=NOW)
    assert [t.pod for t in snap.log_tails] == ["web-1"] and snap.gaps == []
