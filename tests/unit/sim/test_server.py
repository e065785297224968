"""The HTTP API: paging, 410, selectors, logs, faults, auth, down/up, TLS, the official client."""

from __future__ import annotations

import socket
import time
import urllib.error
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader

from k8s_monitor.sim import Scenario, SimServer, load_scenario
from tests.unit.sim.conftest import FIXED_START, Reply, http

STATUS_KEYS = {"kind", "apiVersion", "metadata", "status", "message", "reason", "code"}


def assert_status(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    assert reply.status == code
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert STATUS_KEYS <= set(body)
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        code,
        reason,
    )
    return body


def names(reply: Reply) -> list[str]:
    return [item["metadata"]["name"] for item in reply.json()["items"]]


def page_all(server: SimServer, path: str, limit: int) -> tuple[list[str], int]:
    """Every name of a paged list, and how many requests it took."""
    seen: list[str] = []
    token = ""
    pages = 0
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}limit={limit}" + (f"&continue={quote(token)}" if token else "")
        reply = http(server, url)
        assert reply.status == 200, reply.body
        seen += names(reply)
        pages += 1
        token = reply.json()["metadata"].get("continue", "")
        if not token:
            return seen, pages


# --- lists and paging ------------------------------------------------------------------------


def test_list_shape_and_paging_reassembles_the_full_list(server: SimServer) -> None:
    full = http(server, "/api/v1/pods")
    body = full.json()
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert "kind" not in body["items"][0]  # list items carry no kind, as in the apiserver
    paged, pages = page_all(server, "/api/v1/pods", 7)
    assert paged == names(full)
    assert len(set(paged)) == len(paged) >= 40
    assert pages == -(-len(paged) // 7)


def test_first_page_reports_remaining_items_and_an_opaque_token(server: SimServer) -> None:
    meta = http(server, "/api/v1/pods?limit=10").json()["metadata"]
    total = len(http(server, "/api/v1/pods").json()["items"])
    assert meta["remainingItemCount"] == total - 10
    assert meta["continue"] and "pods" not in meta["continue"]


def test_apps_and_namespaced_lists(server: SimServer) -> None:
    deployments = http(server, "/apis/apps/v1/namespaces/shop/deployments").json()
    assert deployments["kind"] == "DeploymentList"
    assert {d["metadata"]["namespace"] for d in deployments["items"]} == {"shop"}
    assert "checkout" in names(http(server, "/apis/apps/v1/deployments"))
    for path in (
        "/apis/batch/v1/cronjobs",
        "/apis/batch/v1/jobs",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
        "/apis/policy/v1/poddisruptionbudgets",
        "/api/v1/persistentvolumeclaims",
        "/api/v1/persistentvolumes",
        "/api/v1/resourcequotas",
        "/api/v1/namespaces",
        "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets",
        "/apis/apps/v1/replicasets",
    ):
        assert http(server, path).json()["items"], path


def test_expired_token_answers_410_expired(server: SimServer) -> None:
    token = http(server, "/api/v1/pods?limit=5").json()["metadata"]["continue"]
    server.expire_continue_tokens()
    reply = http(server, f"/api/v1/pods?limit=5&continue={quote(token)}")
    body = assert_status(reply, 410, "Expired")
    assert "too old" in body["message"]


def test_malformed_or_mismatched_token_is_a_bad_request_like_the_apiserver(
    server: SimServer,
) -> None:
    # kube-apiserver answers 400 "continue key is not valid" for a token it cannot decode or
    # that belongs to another list; 410 is only for a valid token whose snapshot is gone.
    body = assert_status(
        http(server, "/api/v1/pods?limit=5&continue=bm9uc2Vuc2U"), 400, "BadRequest"
    )
    assert "continue key is not valid" in body["message"]
    token = http(server, "/api/v1/pods?limit=5").json()["metadata"]["continue"]
    reply = http(server, f"/api/v1/nodes?limit=5&continue={quote(token)}")
    assert "continue key is not valid" in assert_status(reply, 400, "BadRequest")["message"]
    assert_status(http(server, "/api/v1/pods?limit=5&continue=%25%25%25"), 400, "BadRequest")


def test_continue_with_resource_version_is_a_bad_request(server: SimServer) -> None:
    token = http(server, "/api/v1/pods?limit=5").json()["metadata"]["continue"]
    reply = http(server, f"/api/v1/pods?limit=5&resourceVersion=1&continue={quote(token)}")
    assert_status(reply, 400, "BadRequest")


def test_resource_version_zero_ignores_limit_like_the_watch_cache(server: SimServer) -> None:
    body = http(server, "/api/v1/pods?limit=5&resourceVersion=0").json()
    assert len(body["items"]) > 5 and "continue" not in body["metadata"]


def test_a_paged_list_finishes_on_the_state_it_started_on(server: SimServer) -> None:
    first = http(server, "/api/v1/pods?limit=20").json()
    server.advance()
    server.advance()
    fresh, _ = page_all(server, "/api/v1/pods", 20)
    assert len(fresh) >= 40  # a fresh list works
    token = first["metadata"]["continue"]
    second = http(server, f"/api/v1/pods?limit=100&continue={quote(token)}")
    # Two advances later, the step the token was issued on is gone: 410, as after compaction.
    assert_status(second, 410, "Expired")


def test_one_advance_keeps_the_previous_state_for_running_lists(server: SimServer) -> None:
    first = http(server, "/api/v1/pods?limit=20").json()
    rv = first["metadata"]["resourceVersion"]
    server.advance()
    token = first["metadata"]["continue"]
    second = http(server, f"/api/v1/pods?limit=100&continue={quote(token)}").json()
    assert second["metadata"]["resourceVersion"] == rv
    crash = [p for p in second["items"] if "CrashLoopBackOff" in str(p["status"])]
    assert not crash  # still the healthy baseline
    fresh = http(server, "/api/v1/pods").json()
    assert fresh["metadata"]["resourceVersion"] != rv
    assert any("CrashLoopBackOff" in str(p["status"]) for p in fresh["items"])


# --- selectors -------------------------------------------------------------------------------


def test_selectors_over_http(server: SimServer) -> None:
    server.goto(1)
    warnings = http(server, "/api/v1/events?fieldSelector=type%3DWarning").json()["items"]
    assert warnings and all(e["type"] == "Warning" for e in warnings)
    pod = warnings[0]["involvedObject"]["name"]
    about = http(
        server,
        f"/api/v1/namespaces/shop/events?fieldSelector=involvedObject.kind%3DPod,involvedObject.name%3D{pod}",
    ).json()["items"]
    assert {e["involvedObject"]["name"] for e in about} == {pod}
    checkout = names(http(server, "/api/v1/pods?labelSelector=app%3Dcheckout"))
    assert len(checkout) == 3
    not_running = http(server, "/api/v1/pods?fieldSelector=status.phase!%3DRunning").json()
    assert {p["status"]["phase"] for p in not_running["items"]} == {"Succeeded"}
    node = http(server, "/api/v1/nodes").json()["items"][0]["metadata"]["name"]
    on_node = http(server, f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}").json()
    assert on_node["items"] and {p["spec"]["nodeName"] for p in on_node["items"]} == {node}
    in_set = names(http(server, "/api/v1/pods?labelSelector=app+in+(cart,catalog)"))
    assert len(in_set) == 5


def test_selectors_page_with_limit(server: SimServer) -> None:
    selected, pages = page_all(server, "/api/v1/pods?labelSelector=app%3Daws-node", 2)
    assert len(selected) == 5 and pages >= 3


def test_bad_selectors_are_400(server: SimServer) -> None:
    body = assert_status(
        http(server, "/api/v1/events?fieldSelector=color%3Dred"), 400, "BadRequest"
    )
    assert body["message"] == "field label not supported: color"
    assert_status(http(server, "/api/v1/pods?labelSelector=app+in+web"), 400, "BadRequest")


# --- single objects, discovery, errors -------------------------------------------------------


def test_single_get_has_kind_and_404_is_a_real_status(server: SimServer) -> None:
    pod_name = names(http(server, "/api/v1/namespaces/shop/pods"))[0]
    pod = http(server, f"/api/v1/namespaces/shop/pods/{pod_name}").json()
    assert (pod["kind"], pod["apiVersion"], pod["metadata"]["name"]) == ("Pod", "v1", pod_name)
    node_name = names(http(server, "/api/v1/nodes"))[0]
    assert http(server, f"/api/v1/nodes/{node_name}").json()["kind"] == "Node"
    body = assert_status(http(server, "/api/v1/namespaces/shop/pods/nope"), 404, "NotFound")
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}
    body = assert_status(
        http(server, "/apis/apps/v1/namespaces/shop/deployments/nope"), 404, "NotFound"
    )
    assert body["message"] == 'deployments.apps "nope" not found'


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/secrets",
        "/api/v2/pods",
        "/apis/example.com/v1/things",
        "/nothing",
        "/api/v1/namespaces/shop/pods/x/exec",
    ],
)
def test_unknown_paths_are_404_status(server: SimServer, path: str) -> None:
    body = assert_status(http(server, path), 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"


def test_discovery_and_version(server: SimServer) -> None:
    assert http(server, "/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in http(server, "/apis").json()["groups"]}
    assert {"apps", "batch", "autoscaling", "policy", "metrics.k8s.io"} <= groups
    core = http(server, "/api/v1").json()
    assert {"pods", "pods/log", "nodes", "events"} <= {r["name"] for r in core["resources"]}
    apps = http(server, "/apis/apps/v1").json()
    deploy = next(r for r in apps["resources"] if r["name"] == "deployments")
    assert deploy["namespaced"] and "deploy" in deploy["shortNames"]
    assert http(server, "/version").json()["gitVersion"].startswith("v1.30")


def test_metrics_only_when_the_scenario_has_them(server: SimServer, tmp_path: Path) -> None:
    nodes = http(server, "/apis/metrics.k8s.io/v1beta1/nodes").json()
    assert nodes["kind"] == "NodeMetricsList" and nodes["items"][0]["usage"]["memory"].endswith(
        "Ki"
    )
    pods = http(server, "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods").json()
    assert pods["items"] and pods["items"][0]["containers"][0]["usage"]["cpu"].endswith("n")
    path = tmp_path / "bare.yaml"
    path.write_text("name: bare\nmetrics: false\nnodes: [{name: n1}]\n")
    with SimServer(load_scenario(path)) as bare:
        assert_status(http(bare, "/apis/metrics.k8s.io/v1beta1/nodes"), 404, "NotFound")
        assert "metrics.k8s.io" not in {g["name"] for g in http(bare, "/apis").json()["groups"]}


def test_tables_for_kubectl(server: SimServer) -> None:
    server.goto(1)
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = http(server, "/api/v1/pods?limit=500", headers={"Accept": accept}).json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Ready", "Status", "Restarts", "Age"]
    statuses = {row["cells"][2] for row in table["rows"]}
    assert {"Running", "CrashLoopBackOff", "Completed"} <= statuses
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


# --- logs ------------------------------------------------------------------------------------


def _crashing_pod(server: SimServer) -> str:
    server.goto(1)
    return names(http(server, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dcheckout"))[0]


def test_previous_log_with_tail_and_limit(server: SimServer) -> None:
    pod = _crashing_pod(server)
    base = f"/api/v1/namespaces/shop/pods/{pod}/log?container=checkout&previous=true"
    reply = http(server, base)
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/plain"
    full = reply.body.decode()
    assert "AWS_SECRET_ACCESS_KEY=" in full and "PoolTimeout" in full
    tail = http(server, base + "&tailLines=2").body.decode()
    assert tail == "".join(full.splitlines(keepends=True)[-2:])
    assert len(http(server, base + "&limitBytes=40").body) == 40
    stamped = http(server, base + "&tailLines=1&timestamps=true").body.decode()
    assert stamped.startswith(FIXED_START.strftime("%Y-%m-%dT"))
    # The container name may be omitted for single-container pods.
    assert http(server, f"/api/v1/namespaces/shop/pods/{pod}/log?previous=1").body.decode() == full


def test_log_errors_match_the_kubelet(server: SimServer) -> None:
    healthy = names(http(server, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dcart"))[0]
    body = assert_status(
        http(server, f"/api/v1/namespaces/shop/pods/{healthy}/log?previous=true"), 400, "BadRequest"
    )
    assert "previous terminated container" in body["message"]
    assert http(server, f"/api/v1/namespaces/shop/pods/{healthy}/log").body.count(b"\n") >= 5
    wrong = http(server, f"/api/v1/namespaces/shop/pods/{healthy}/log?container=sidecar")
    assert "is not valid for pod" in assert_status(wrong, 400, "BadRequest")["message"]
    assert_status(http(server, "/api/v1/namespaces/shop/pods/nope/log"), 404, "NotFound")
    server.goto(3)
    pulling = names(
        http(server, "/api/v1/namespaces/payments/pods?fieldSelector=status.phase%3DPending")
    )[0]
    waiting = http(server, f"/api/v1/namespaces/payments/pods/{pulling}/log")
    assert "waiting to start" in assert_status(waiting, 400, "BadRequest")["message"]


def test_set_pod_log_overrides(server: SimServer) -> None:
    pod = names(http(server, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dcart"))[0]
    server.set_pod_log("shop", pod, "cart", "panic: boom\n", previous=True)
    assert (
        http(server, f"/api/v1/namespaces/shop/pods/{pod}/log?previous=true").body
        == b"panic: boom\n"
    )


# --- faults, auth, down/up, request log ------------------------------------------------------


def test_403_names_the_resource_and_the_service_account(server: SimServer) -> None:
    server.faults.set(resource="horizontalpodautoscalers", status=403)
    body = assert_status(
        http(server, "/apis/autoscaling/v2/horizontalpodautoscalers"), 403, "Forbidden"
    )
    assert body["message"] == (
        "horizontalpodautoscalers is forbidden: "
        'User "system:serviceaccount:monitoring:k8s-monitor" '
        'cannot list resource "horizontalpodautoscalers" in API group "autoscaling" '
        "at the cluster scope"
    )
    assert body["details"] == {"kind": "horizontalpodautoscalers", "group": "autoscaling"}
    assert http(server, "/api/v1/pods").status == 200  # other resources are unaffected
    server.faults.clear()
    assert http(server, "/apis/autoscaling/v2/horizontalpodautoscalers").status == 200


def test_500_count_and_namespaced_403(server: SimServer) -> None:
    server.faults.set(resource="pods", status=500, count=2)
    assert_status(http(server, "/api/v1/pods"), 500, "InternalError")
    assert_status(http(server, "/api/v1/pods"), 500, "InternalError")
    assert http(server, "/api/v1/pods").status == 200
    server.faults.set(resource="pods/log", status=403, user="system:serviceaccount:x:y")
    pod = names(http(server, "/api/v1/namespaces/shop/pods"))[0]
    body = assert_status(http(server, f"/api/v1/namespaces/shop/pods/{pod}/log"), 403, "Forbidden")
    assert f'pods "{pod}" is forbidden' in body["message"]
    assert 'cannot get resource "pods/log"' in body["message"]
    assert 'in the namespace "shop"' in body["message"]


def test_410_fault_hits_continue_requests_only(server: SimServer) -> None:
    server.faults.set(resource="pods", status=410, count=1)
    first = http(server, "/api/v1/pods?limit=10")
    assert first.status == 200
    token = first.json()["metadata"]["continue"]
    assert_status(http(server, f"/api/v1/pods?limit=10&continue={quote(token)}"), 410, "Expired")
    assert http(server, f"/api/v1/pods?limit=10&continue={quote(token)}").status == 200


def test_slow_fault_delays_the_answer(server: SimServer) -> None:
    server.faults.set(resource="nodes", delay_seconds=0.3)
    started = time.monotonic()
    assert http(server, "/api/v1/nodes").status == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ValueError, match="status, a delay"):
        server.faults.set(resource="nodes")


def test_token_check(server: SimServer) -> None:
    server.require_token("abc")
    assert_status(http(server, "/api/v1/pods"), 401, "Unauthorized")
    assert_status(
        http(server, "/api/v1/pods", headers={"Authorization": "Bearer nope"}), 401, "Unauthorized"
    )
    assert http(server, "/api/v1/pods", headers={"Authorization": "Bearer abc"}).status == 200
    server.require_token(None)
    assert http(server, "/api/v1/pods").status == 200


def test_down_and_up_on_the_same_port(server: SimServer) -> None:
    port = server.port
    assert http(server, "/version").status == 200
    server.down()
    assert not server.is_up
    with pytest.raises(urllib.error.URLError):
        http(server, "/version", timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.up()
    assert server.port == port
    assert http(server, "/version").status == 200


def test_down_drops_kept_alive_connections(server: SimServer, tmp_path: Path) -> None:
    v1 = client.CoreV1Api(
        config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
    )
    assert v1.list_node().items
    server.down()
    with pytest.raises(Exception) as caught:  # urllib3 raises MaxRetryError / ProtocolError
        v1.list_node(_request_timeout=2)
    assert not isinstance(caught.value, ApiException)
    server.up()
    assert v1.list_node().items


def test_request_log_and_control_endpoint(server: SimServer) -> None:
    server.clear_requests()
    http(server, "/api/v1/pods?limit=3&labelSelector=app%3Dcart")
    method, path, query = server.requests[-1]
    assert (method, path, query) == (
        "GET",
        "/api/v1/pods",
        {"limit": "3", "labelSelector": "app=cart"},
    )
    state = http(server, "/sim/advance", method="POST").json()
    assert (state["step"], state["stepName"]) == (1, "checkout-crashloop")
    assert server.step == 1 and server.step_name == "checkout-crashloop"
    for _ in range(10):
        server.advance()
    assert server.step == server.step_count - 1  # stays on the last step


def test_unsupported_verbs_and_watch(server: SimServer) -> None:
    assert_status(http(server, "/api/v1/pods", method="DELETE"), 405, "MethodNotAllowed")
    assert_status(http(server, "/api/v1/pods?watch=true"), 405, "MethodNotAllowed")


# --- the official client, TLS, in-cluster ----------------------------------------------------


def test_official_client_pages_through_the_server(server: SimServer, tmp_path: Path) -> None:
    server.goto(1)
    api_client = config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
    v1 = client.CoreV1Api(api_client)
    seen = []
    token = None
    while True:
        page = v1.list_pod_for_all_namespaces(limit=9, _continue=token)
        seen += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert len(seen) == len(v1.list_pod_for_all_namespaces().items)
    crashing = [
        p
        for p in v1.list_namespaced_pod("shop", label_selector="app=checkout").items
        if p.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
    ]
    assert len(crashing) == 3
    text = v1.read_namespaced_pod_log(
        crashing[0].metadata.name, "shop", container="checkout", previous=True, tail_lines=50
    )
    assert "AWS_SECRET_ACCESS_KEY" in text
    with pytest.raises(ApiException) as caught:
        v1.read_namespaced_pod("nope", "shop")
    assert caught.value.status == 404
    hpas = client.AutoscalingV2Api(api_client).list_horizontal_pod_autoscaler_for_all_namespaces()
    assert hpas.items[0].spec.max_replicas == 10


def test_tls_kubeconfig_and_in_cluster_loader(incident_day: Scenario, tmp_path: Path) -> None:
    with SimServer(incident_day, tls=True, token="sa-token") as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_file is not None and server.ca_file.read_text().startswith("-----BEGIN")
        kubeconfig = server.write_kubeconfig(tmp_path / "kc", token="sa-token")
        v1 = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
        assert v1.list_node().items
        token_file = tmp_path / "token"
        token_file.write_text("sa-token")
        configuration = client.Configuration()
        InClusterConfigLoader(
            token_filename=str(token_file),
            cert_filename=str(server.ca_file),
            environ={
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(server.port),
            },
        ).load_and_set(configuration)
        in_cluster = client.CoreV1Api(client.ApiClient(configuration))
        assert len(in_cluster.list_namespace().items) >= 4
        token_file.write_text("wrong")
        rotated = client.Configuration()
        InClusterConfigLoader(
            token_filename=str(token_file),
            cert_filename=str(server.ca_file),
            environ={
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(server.port),
            },
        ).load_and_set(rotated)
        with pytest.raises(ApiException) as caught:
            client.CoreV1Api(client.ApiClient(rotated)).list_namespace()
        assert caught.value.status == 401


def test_fixed_clock_server_time(incident_day: Scenario) -> None:
    with SimServer(incident_day) as server:
        server.advance()
        state = http(server, "/sim/state").json()
        assert state["time"].startswith("2026-03-02T09:15")


def test_small_keep_alive_responses_are_not_stalled_by_nagle(server: SimServer) -> None:
    """Headers and body are separate writes: without TCP_NODELAY each answer waits ~40 ms."""
    import statistics

    import urllib3

    pool = urllib3.PoolManager()
    latencies = []
    for _ in range(15):
        started = time.perf_counter()
        assert pool.request("GET", server.url + "/api/v1/nodes").status == 200
        latencies.append(time.perf_counter() - started)
    assert statistics.median(latencies) < 0.02


def test_a_simulator_bug_is_a_500_status_and_counted(
    incident_day: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimServer(incident_day) as server:

        def broken(step: int, now: object) -> None:
            raise KeyError("boom")

        monkeypatch.setattr(server.source, "view", broken)
        body = assert_status(http(server, "/api/v1/pods"), 500, "InternalError")
        assert "boom" in body["message"]
        assert server.internal_errors == 1
        assert http(server, "/version").status == 200  # the server thread survived


def test_resource_version_match_semantics(server: SimServer) -> None:
    baseline = http(server, "/api/v1/pods").json()["metadata"]["resourceVersion"]
    server.advance()
    exact = http(server, f"/api/v1/pods?resourceVersion={baseline}&resourceVersionMatch=Exact")
    assert exact.json()["metadata"]["resourceVersion"] == baseline
    assert "CrashLoopBackOff" not in exact.body.decode()
    newer = http(server, f"/api/v1/pods?resourceVersion={baseline}")  # not older than
    assert newer.json()["metadata"]["resourceVersion"] != baseline
    assert "CrashLoopBackOff" in newer.body.decode()
    future = str(int(baseline) * 10)
    assert_status(http(server, f"/api/v1/pods?resourceVersion={future}"), 504, "Timeout")
    server.advance()
    old = http(server, f"/api/v1/pods?resourceVersion={baseline}&resourceVersionMatch=Exact")
    assert "too old resource version" in assert_status(old, 410, "Expired")["message"]
    assert_status(http(server, "/api/v1/pods?resourceVersion=abc"), 400, "BadRequest")
