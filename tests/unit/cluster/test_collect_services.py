"""Services and EndpointSlices: collected read-only, and a 403 on them costs only their view."""

from __future__ import annotations

from k8s_monitor.analysis.rules import analyze
from tests.unit.cluster import objects as o
from tests.unit.cluster.conftest import MakeCollector
from tests.unit.cluster.fake_api import FakeState
from tests.unit.cluster.objects import NOW


def test_services_and_endpointslices_are_collected(make_collector: MakeCollector) -> None:
    snap = make_collector().collect(now=NOW)
    assert [s.metadata.name for s in snap.services] == ["api"]
    (slice_,) = snap.endpoint_slices
    assert slice_.metadata.labels["kubernetes.io/service-name"] == "api"
    assert [e.conditions.ready for e in slice_.endpoints] == [True, False]
    assert [c.metadata.name for c in snap.storage_classes] == ["gp3"]


def test_forbidden_services_and_slices_are_gaps_and_the_cycle_goes_on(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.status["/api/v1/services"] = 403
    state.status["/apis/discovery.k8s.io/v1/endpointslices"] = 403
    snap = make_collector().collect(now=NOW)
    gaps = {(g.resource, g.api_group): g for g in snap.gaps}
    assert set(gaps) == {("services", ""), ("endpointslices", "discovery.k8s.io")}
    assert all(g.reason == "forbidden" and g.status == 403 for g in gaps.values())
    assert 'resources: ["endpointslices"]' in gaps[("endpointslices", "discovery.k8s.io")].fix
    findings = analyze(snap, now=NOW)
    blind = {f.subject.name for f in findings if f.reason == "CollectionGap"}
    assert blind == {"services", "endpointslices.discovery.k8s.io"}
    # Everything else is still judged: the crash-looping pod of the populated cluster.
    assert any(f.reason == "CrashLoopBackOff" for f in findings)


def test_forbidden_slices_alone_fall_back_to_the_pods(
    make_collector: MakeCollector, state: FakeState
) -> None:
    state.status["/apis/discovery.k8s.io/v1/endpointslices"] = 403
    # The Service selects app=api; the only such pod is not ready (its container waits).
    snap = make_collector().collect(now=NOW)
    assert snap.endpoint_slices == [] and snap.services
    findings = analyze(snap, now=NOW)
    service = [f for f in findings if f.subject.kind == "Service"]
    assert [f.reason for f in service] == ["ServiceNoReadyEndpoints"]
    assert service[0].evidence["source"] == "pods"


def test_the_autoscalers_normal_refusals_are_collected_with_the_warnings(
    make_collector: MakeCollector, state: FakeState
) -> None:
    refusal = o.event(
        "ca-1",
        "web",
        type_="Normal",
        message="pod didn't trigger scale-up: 2 max node group size reached",
    )
    refusal["reason"] = "NotTriggerScaleUp"
    state.lists["/api/v1/events"].append(refusal)
    snap = make_collector().collect(now=NOW)
    # The fake ignores field selectors, as some servers do: the collector filters anyway.
    names = sorted(e.metadata.name for e in snap.events)
    assert names == ["ca-1", "e1", "e4"]
