"""The collector against a scripted loopback apiserver: paging, faults, filters, redaction."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

from k8s_monitor.cluster import resources as res
from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.snapshot import ClusterSnapshot
from k8s_monitor.config import Settings
from k8s_monitor.errors import ClusterAuthError, ClusterUnreachableError
from k8s_monitor.redaction import Redactor
from tests.unit.cluster import objects as o
from tests.unit.cluster.conftest import CORE, MakeCollector
from tests.unit.cluster.fake_api import FakeApi, FakeState
from tests.unit.cluster.objects import NOW

PODS = f"{CORE}/pods"


def _collect(make_collector: MakeCollector, **overrides: object) -> ClusterSnapshot:
    return make_collector(**overrides).collect(now=NOW)


def test_collects_every_resource_kind(make_collector: MakeCollector) -> None:
    snap = _collect(make_collector)
    assert [p.metadata.name for p in snap.pods] == ["api-7d9f8b6c5d-x2kqz", "web-1", "mem-1"]
    counts = {
        attr: len(getattr(snap, attr))
        for attr in (
            "nodes",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "jobs",
            "cronjobs",
            "pvcs",
            "pvs",
            "hpas",
            "pdbs",
            "resource_quotas",
            "namespaces",
            "services",
            "endpoint_slices",
            "storage_classes",
        )
    }
    assert counts == dict.fromkeys(counts, 1) | {"nodes": 2, "namespaces": 3}
    assert snap.gaps == []
    assert snap.cluster == "test" and snap.collected_at == NOW


def test_metrics_api_absent_is_none_not_a_gap(make_collector: MakeCollector) -> None:
    snap = _collect(make_collector)
    assert snap.node_metrics is None and snap.pod_metrics is None
    assert not snap.partial


def test_metrics_collected_when_served(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists["/apis/metrics.k8s.io/v1beta1/nodes"] = [o.node_metrics()]
    state.lists["/apis/metrics.k8s.io/v1beta1/pods"] = []
    snap = _collect(make_collector)
    assert snap.node_metrics is not None and snap.node_metrics[0].usage["cpu"] == "1200m"
    assert snap.pod_metrics == []


def test_paging_across_many_pages(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(1_003)]
    snap = _collect(make_collector, page_size=10)
    assert [p.metadata.name for p in snap.pods] == [f"p-{i}" for i in range(1_003)]
    pod_requests = [q for path, q in state.requests if path == PODS]
    assert len(pod_requests) == 101
    assert all(q["limit"] == ["10"] for q in pod_requests)
    assert "continue" not in pod_requests[0] and pod_requests[1]["continue"] == ["10"]


def test_410_restarts_the_list_once(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(25)]
    state.expire_continue[PODS] = 1
    snap = _collect(make_collector, page_size=10)
    assert len(snap.pods) == 25  # restarted from scratch: no duplicates, nothing missing
    assert snap.gaps == []
    assert state.hits()[PODS] == 1 + 1 + 3  # first page, the 410, then three pages again


def test_second_410_gives_a_partial_list_and_a_gap(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(25)]
    state.expire_continue[PODS] = 2
    snap = _collect(make_collector, page_size=10)
    assert len(snap.pods) == 10
    (gap,) = snap.gaps
    assert (gap.resource, gap.reason, gap.status) == ("pods", "expired", 410)
    assert "COLLECT_PAGE_SIZE" in gap.fix


def test_403_on_one_resource_is_a_gap_with_the_rbac_fix(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.status["/apis/autoscaling/v2/horizontalpodautoscalers"] = 403
    snap = _collect(make_collector)
    (gap,) = snap.gaps
    assert (gap.resource, gap.api_group, gap.reason, gap.status) == (
        "horizontalpodautoscalers",
        "autoscaling",
        "forbidden",
        403,
    )
    assert 'apiGroups: ["autoscaling"]' in gap.fix
    assert 'resources: ["horizontalpodautoscalers"]' in gap.fix
    assert snap.hpas == [] and len(snap.pods) == 3 and snap.partial


def test_500_and_timeout_are_gaps(make_collector: MakeCollector, state: FakeState) -> None:
    state.status["/apis/batch/v1/jobs"] = 500
    state.delay["/apis/apps/v1/daemonsets"] = 2.0
    snap = _collect(make_collector, timeout_seconds=0.5)
    reasons = {gap.resource: gap.reason for gap in snap.gaps}
    assert reasons == {"jobs": "error", "daemonsets": "timeout"}
    assert "COLLECT_TIMEOUT_SECONDS" in next(g.fix for g in snap.gaps if g.reason == "timeout")


def test_unreachable_apiserver_raises(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = FakeApi(FakeState(), f"http://127.0.0.1:{port}").write_kubeconfig(
        tmp_path / "kubeconfig"
    )
    settings = Settings(kubeconfig=kubeconfig, _env_file=None)
    collector = Collector(load_api_client(settings), CollectOptions(), Redactor())
    try:
        with pytest.raises(ClusterUnreachableError, match="did not answer"):
            collector.collect(now=NOW)
    finally:
        collector.close()


def test_401_raises_auth_error(make_collector: MakeCollector, state: FakeState) -> None:
    state.token = "a-different-token"
    with pytest.raises(ClusterAuthError):
        _collect(make_collector)


def test_events_are_recent_warnings_only(make_collector: MakeCollector, state: FakeState) -> None:
    snap = _collect(make_collector)
    assert sorted(e.metadata.name for e in snap.events) == ["e1", "e4"]
    selectors = {q["fieldSelector"][0] for path, q in state.requests if path == f"{CORE}/events"}
    assert selectors == {"type=Warning", "reason=NotTriggerScaleUp"}


def test_events_since_last_cycle(make_collector: MakeCollector) -> None:
    collector = make_collector()
    snap = collector.collect(now=NOW, since=NOW - timedelta(minutes=1))
    assert snap.events == []  # everything was last seen at 01:05, before 01:09


def test_namespace_include_lists_per_namespace(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.lists[f"{CORE}/namespaces/web/pods"] = [o.pod("w-1", "web")]
    snap = _collect(
        make_collector, namespace_include=("web",), resources=(res.PODS, res.NAMESPACES, res.NODES)
    )
    assert [p.metadata.name for p in snap.pods] == ["w-1"]
    assert [n.metadata.name for n in snap.namespaces] == ["web"]
    assert len(snap.nodes) == 2  # cluster-scoped: not filtered


def test_namespace_exclude_filters(make_collector: MakeCollector) -> None:
    snap = _collect(make_collector, namespace_exclude=("web",))
    assert {p.metadata.namespace for p in snap.pods} == {"default"}
    assert all(e.metadata.namespace != "web" for e in snap.events)
    assert "web" not in {n.metadata.name for n in snap.namespaces}


def test_label_selector_sent_for_workloads_only(
    make_collector: MakeCollector, state: FakeState
) -> None:
    _collect(make_collector, label_selector="team=payments")
    with_selector = {path for path, q in state.requests if "labelSelector" in q}
    assert PODS in with_selector and "/apis/apps/v1/deployments" in with_selector
    assert f"{CORE}/nodes" not in with_selector and f"{CORE}/events" not in with_selector


def test_redaction_and_no_env_values(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists[PODS] = [
        o.pod(
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": '{"env": "x"}',
                "example.com/api-token": "t0k3n-value",
                "note": "see AKIAZ3MHTQ4JXP7W2LNB",
            },
            args=["--db-password", "Hunter2Hunter2", "--mode=fast"],
        )
    ]
    snap = _collect(make_collector)
    pod = snap.pods[0]
    assert pod.metadata.annotations == {
        "example.com/api-token": "[REDACTED:token]",
        "note": "see [REDACTED:aws_access_key]",
    }
    assert pod.spec.containers[0].args == ("--db-password", "[REDACTED:password]", "--mode=fast")
    assert "never-collect-me" not in repr(snap)
    event = next(e for e in snap.events if e.metadata.name == "e4")
    assert event.message == "auth failed token=[REDACTED:token] for user"


def test_strict_decode_falls_back_on_nulls(make_collector: MakeCollector, state: FakeState) -> None:
    pod = o.pod("nully")
    pod["metadata"]["labels"] = None
    pod["status"]["containerStatuses"][0]["restartCount"] = None
    state.lists[PODS] = [pod]
    snap = _collect(make_collector, resources=(res.PODS,))
    assert snap.pods[0].metadata.name == "nully" and snap.pods[0].metadata.labels == {}


def test_garbage_page_is_a_gap(make_collector: MakeCollector, state: FakeState) -> None:
    state.raw_pages["/apis/apps/v1/deployments"] = b"<html>proxy error</html>"
    snap = _collect(make_collector)
    assert [(g.resource, g.reason) for g in snap.gaps] == [("deployments", "error")]


def test_every_list_timing_out_is_unreachable(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.delay = dict.fromkeys(state.lists, 1.0)
    with pytest.raises(ClusterUnreachableError, match="did not answer any request"):
        make_collector(timeout_seconds=0.2, resources=(res.PODS, res.NODES)).collect(now=NOW)


def test_naive_times_are_taken_as_utc(make_collector: MakeCollector) -> None:
    naive_now = NOW.replace(tzinfo=None)
    snap = make_collector().collect(now=naive_now, since=naive_now - timedelta(hours=2))
    assert sorted(e.metadata.name for e in snap.events) == ["e1", "e4"]


def test_token_the_head_cannot_show_still_pages(
    make_collector: MakeCollector, state: FakeState
) -> None:
    """Whatever the peek says, the decoded page's own token decides the next request."""
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(30)]
    state.token_prefix = "%~"  # outside the characters the head scan accepts
    snap = make_collector(page_size=7, resources=(res.PODS,)).collect(now=NOW)
    assert [p.metadata.name for p in snap.pods] == [f"p-{i}" for i in range(30)]
    tokens = [q.get("continue") for path, q in state.requests if path == PODS]
    assert tokens == [None, ["%~7"], ["%~14"], ["%~21"], ["%~28"]]


def test_one_transient_failure_is_retried(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(30)]
    state.fail_next[PODS] = [503]
    snap = make_collector(page_size=10).collect(now=NOW)
    assert len(snap.pods) == 30 and snap.gaps == []
    assert state.hits()[PODS] == 4


def test_second_transient_failure_is_a_gap(make_collector: MakeCollector, state: FakeState) -> None:
    state.fail_next[PODS] = [500, 500]
    snap = make_collector().collect(now=NOW)
    assert [(g.resource, g.reason, g.status) for g in snap.gaps] == [("pods", "error", 500)]


def _shared_namespaces(snap: ClusterSnapshot) -> int:
    return len({id(p.metadata.namespace) for p in snap.pods})


def test_small_lists_are_not_interned(make_collector: MakeCollector, state: FakeState) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(30)]
    snap = make_collector(page_size=10, resources=(res.PODS,)).collect(now=NOW)
    assert _shared_namespaces(snap) == 30


def test_big_list_known_from_remaining_count_is_interned_from_the_start(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(30)]
    collector = make_collector(page_size=10, resources=(res.PODS,), compact_min_objects=25)
    assert _shared_namespaces(collector.collect(now=NOW)) == 1


def test_big_list_without_remaining_count_catches_up(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.lists[PODS] = [o.pod(f"p-{i}") for i in range(30)]
    state.remaining_count = False
    collector = make_collector(page_size=10, resources=(res.PODS,), compact_min_objects=15)
    snap = collector.collect(now=NOW)
    assert _shared_namespaces(snap) == 1 and len(snap.pods) == 30


def test_undecodable_objects_are_left_out_with_a_gap(
    make_collector: MakeCollector, state: FakeState
) -> None:
    bad = o.pod("bad")
    bad["spec"]["containers"] = "not-a-list"
    state.lists[PODS] = [o.pod("good"), bad]
    snap = make_collector(resources=(res.PODS,)).collect(now=NOW)
    assert [p.metadata.name for p in snap.pods] == ["good"]
    assert [(g.resource, g.reason, g.detail) for g in snap.gaps] == [
        ("pods", "error", "1 pods did not decode and were left out")
    ]


def test_gap_details_are_redacted(make_collector: MakeCollector, state: FakeState) -> None:
    state.status["/apis/batch/v1/jobs"] = 403
    state.messages["/apis/batch/v1/jobs"] = "webhook https://u:hunter22@authz.local/ denied"
    snap = make_collector().collect(now=NOW)
    (gap,) = snap.gaps
    assert gap.detail == "webhook https://u:[REDACTED:url_credentials]@authz.local/ denied"
