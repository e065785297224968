"""ClusterLookup against the simulator: GETs only, compact, redacted, capped, typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.lookup import (
    ClusterLookup,
    ObjectList,
    diff_templates,
    render_capped,
    resolve_kind,
)
from k8s_monitor.config import Settings
from k8s_monitor.errors import (
    AccessDeniedError,
    BadRequestError,
    BadSelectorError,
    ClusterLookupError,
    GoneError,
    LookupTimeoutError,
    ObjectNotFoundError,
    SecretRefusedError,
    UnknownKindError,
)
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import SimServer
from tests.unit.cluster import objects as o
from tests.unit.cluster.fake_api import FakeState, serve
from tests.unit.cluster.lookup_world import lookup_world


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    with SimServer(lookup_world(tmp_path)) as server:  # type: ignore[arg-type]
        server.goto(1)
        yield server
        assert server.internal_errors == 0


@pytest.fixture
def lookup(sim: SimServer, tmp_path: Path) -> Iterator[ClusterLookup]:
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    settings = Settings(kubeconfig=kubeconfig, _env_file=None)
    made = ClusterLookup(load_api_client(settings), Redactor(), timeout_seconds=2.0)
    yield made
    made.close()


def _pod_names(sim: SimServer, prefix: str) -> list[str]:
    pods = sim.view().collection("pods")
    assert pods is not None
    return [
        obj["metadata"]["name"]
        for obj in pods.items(0, len(pods))
        if obj["metadata"]["name"].startswith(prefix)
    ]


def test_only_get_requests_are_issued(lookup: ClusterLookup, sim: SimServer) -> None:
    lookup.get_object("Deployment", "shop", "checkout")
    lookup.list_objects("pods", "shop")
    lookup.rollout_history("shop", "checkout")
    lookup.node_detail("node-a")
    lookup.service_endpoints("shop", "checkout")
    assert sim.requests and {r.method for r in sim.requests} == {"GET"}
    assert lookup.requests == len(sim.requests)


def test_secret_is_refused_before_any_request(lookup: ClusterLookup, sim: SimServer) -> None:
    sim.clear_requests()
    for kind in ("Secret", "secrets", "v1/Secret", " SECRET "):
        with pytest.raises(SecretRefusedError):
            lookup.get_object(kind, "shop", "checkout-secrets")
        with pytest.raises(SecretRefusedError):
            lookup.list_objects(kind, "shop")
    assert sim.requests == []


def test_unknown_kind_and_bad_names_are_refused(lookup: ClusterLookup, sim: SimServer) -> None:
    sim.clear_requests()
    with pytest.raises(UnknownKindError, match="known kinds"):
        lookup.get_object("Widget", "shop", "x")
    with pytest.raises(BadRequestError):
        lookup.get_object("Pod", "shop", "../../secrets/x")
    with pytest.raises(BadSelectorError):
        lookup.list_objects("Pod", "shop", label_selector="app=x&watch=true")
    assert sim.requests == []


def test_selector_the_apiserver_rejects_is_a_bad_selector(lookup: ClusterLookup) -> None:
    with pytest.raises(BadSelectorError, match="selector rejected"):
        lookup.list_objects("Pod", "shop", field_selector="spec.unknownField=x")


def test_get_object_drops_env_values_and_bookkeeping(lookup: ClusterLookup) -> None:
    view = lookup.get_object("deploy", "shop", "checkout")
    text = orjson.dumps(view.object).decode()
    assert view.kind == "Deployment"
    assert "hunter2-plain-value" not in text
    assert "DB_PASSWORD" in text and "managedFields" not in text
    assert "checkout-secrets" in text  # the reference is kept, the value was never there


def test_configmap_keys_never_carry_values(lookup: ClusterLookup) -> None:
    keys = lookup.configmap_keys("shop", "checkout-config")
    assert keys.keys == ["app.yaml", "feature"] and keys.binary_keys == ["cert.der"]
    whole = lookup.get_object("ConfigMap", "shop", "checkout-config")
    text = orjson.dumps(whole.object).decode()
    assert "s3cr3t-config-value" not in text and "AAEC" not in text
    assert whole.object["dataKeys"] == ["app.yaml", "feature"]


def test_not_found_forbidden_gone_and_timeout_are_typed(
    lookup: ClusterLookup, sim: SimServer
) -> None:
    with pytest.raises(ObjectNotFoundError, match="not found"):
        lookup.get_object("Pod", "shop", "no-such-pod")
    sim.faults.set("deployments.apps", 403, count=1)
    with pytest.raises(AccessDeniedError, match="forbidden"):
        lookup.get_object("Deployment", "shop", "checkout")
    sim.faults.set("nodes", delay_seconds=3.0, count=1)
    with pytest.raises(LookupTimeoutError):
        lookup.get_object("Node", None, "node-a")
    # Every one of them is a ClusterLookupError: a caller catches one type.
    assert issubclass(SecretRefusedError, ClusterLookupError)


def test_gone_and_retried_overload_through_the_small_fake(tmp_path: Path) -> None:
    state = FakeState()
    state.status["/api/v1/namespaces/web/pods/old"] = 410
    state.fail_next["/api/v1/namespaces/web/pods"] = [503]
    state.lists["/api/v1/namespaces/web/pods"] = [o.pod()]
    with serve(state) as fake:
        settings = Settings(kubeconfig=fake.write_kubeconfig(tmp_path / "kc"), _env_file=None)
        lookup = ClusterLookup(load_api_client(settings), Redactor())
        with pytest.raises(GoneError, match="gone"):
            lookup.get_object("Pod", "web", "old")
        listed = lookup.list_objects("Pod", "web")  # one 503, retried once
        assert len(listed.items) == 1
        lookup.close()


def test_list_is_capped_by_limit_and_says_there_is_more(lookup: ClusterLookup) -> None:
    listed = lookup.list_objects("Pod", "shop", limit=1)
    assert isinstance(listed, ObjectList)
    assert len(listed.items) == 1 and listed.more
    assert {"phase", "ready", "restarts", "node"} <= listed.items[0].keys()


def test_previous_log_is_redacted_and_capped(lookup: ClusterLookup, sim: SimServer) -> None:
    pod = _pod_names(sim, "worker-")[0]
    logs = lookup.container_logs("shop", pod, "worker", previous=True, tail_lines=50)
    assert "FATAL exiting" in logs.text
    assert "sw0rdfish" not in logs.text and "[REDACTED:" in logs.text
    big = "x" * 200 + "\n"
    sim.set_pod_log("shop", pod, "worker", big * 500, previous=True)
    capped = lookup.container_logs("shop", pod, "worker", previous=True, max_bytes=1_000)
    assert len(capped.text.encode()) <= 1_000 and capped.truncated


def test_missing_previous_log_is_a_bad_request(lookup: ClusterLookup, sim: SimServer) -> None:
    pod = _pod_names(sim, "checkout-")[0]
    with pytest.raises(BadRequestError):
        lookup.container_logs("shop", pod, "checkout", previous=True)


def test_events_for_an_object_and_a_namespace(lookup: ClusterLookup, sim: SimServer) -> None:
    pod = _pod_names(sim, "worker-")[0]
    events = lookup.events_for("Pod", "shop", pod)
    assert events.events and all(pod in row.object for row in events.events)
    warnings = lookup.events_in("shop")
    assert warnings.events and {row.type for row in warnings.events} == {"Warning"}
    assert [r.last_seen for r in warnings.events] == sorted(
        (r.last_seen for r in warnings.events), reverse=True
    )


def test_rollout_history_diffs_the_pod_template(lookup: ClusterLookup) -> None:
    history = lookup.rollout_history("shop", "checkout")
    assert [r.revision for r in history.revisions] == [1, 2]
    assert history.current_revision == 2
    newest = history.revisions[-1]
    image = [c for c in newest.changes if c.path.endswith(".image")]
    assert image and image[0].before == "example.com/shop/checkout:1.0"
    assert image[0].after == "example.com/shop/checkout:2.0"
    assert not any("pod-template-hash" in c.path for c in newest.changes)


def test_node_detail_sums_requests_against_allocatable(
    lookup: ClusterLookup, sim: SimServer
) -> None:
    detail = lookup.node_detail("node-a")
    cpu = next(u for u in detail.usage if u.resource == "cpu")
    assert cpu.allocatable and cpu.requested > 0 and cpu.percent is not None
    assert detail.pod_count == len(detail.pods) > 0
    assert all(row["node"] == "node-a" for row in detail.pods)
    assert any(c.startswith("Ready=True") for c in detail.conditions)


def test_service_endpoints_and_a_service_with_none(lookup: ClusterLookup) -> None:
    svc = lookup.service_endpoints("shop", "checkout")
    assert (svc.ready, svc.not_ready) == (1, 1)
    assert svc.ports == ["http 80->8080/TCP"] and svc.selected_pods == []
    ghost = lookup.service_endpoints("shop", "ghost")
    assert ghost.ready == 0 and ghost.selected_pods == []
    assert ghost.selector == {"app": "ghost"}


def test_render_never_exceeds_the_cap(lookup: ClusterLookup) -> None:
    listed = lookup.list_objects("Event", "shop", limit=200)
    for cap in (300, 2_000, 16_000):
        text = render_capped(listed, cap)
        assert len(text) <= cap
    huge = {"items": [{"message": "y" * 5_000} for _ in range(100)]}
    text = render_capped(huge, 4_000)
    assert len(text) <= 4_000 and "more left out" in text
    assert orjson.loads(text)  # still JSON when shrinking suffices


def test_kind_names_resolve_by_kind_plural_and_short_name() -> None:
    assert resolve_kind("po").kind == resolve_kind("Pods").kind == "Pod"
    assert resolve_kind("svc").plural == "services"
    assert resolve_kind("EndpointSlice").group == "discovery.k8s.io"


def test_template_diff_keys_lists_by_name() -> None:
    before = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "x"}]}}
    after = {"spec": {"containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "2"}]}}
    changes = diff_templates(before, after)
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("spec.containers[a].image", "1", "2")
    ]


def test_configmaps_are_never_listed(lookup: ClusterLookup, sim: SimServer) -> None:
    sim.clear_requests()
    with pytest.raises(AccessDeniedError, match="never listed"):
        lookup.list_objects("ConfigMap", "shop")
    assert sim.requests == []


def test_forbidden_names_the_rule_to_add(lookup: ClusterLookup, sim: SimServer) -> None:
    sim.faults.set("services", 403, count=1)
    with pytest.raises(AccessDeniedError, match=r'resources: \["services"\]'):
        lookup.service_endpoints("shop", "checkout")
