"""deploy/: every target renders, validates against the Kubernetes schemas offline, and passes
the security and consistency policy a review would check."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from k8s_monitor.cluster.lookup import LOOKUP_KINDS
from k8s_monitor.cluster.resources import RESOURCES
from k8s_monitor.config import Settings
from k8s_monitor.health import HEALTHZ_PATH, PATHS, READYZ_PATH
from k8s_monitor.metrics import Metrics
from tests.unit.deploy.rendering import (
    DEPLOY,
    TARGETS,
    Manifest,
    kubectl_problem,
    of_kind,
    one,
    render,
    render_with_components,
    settings_data,
)

pytestmark = pytest.mark.skipif(
    kubectl_problem() is not None, reason=f"cannot render manifests: {kubectl_problem()}"
)

# Kubernetes versions EKS supports around this release; the schemas ship in kubernetes-validate.
SCHEMA_VERSIONS = ("1.30.0", "1.34.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
READ_VERBS = {"get", "list", "watch"}

# What collection reads, from the collector's own table: the ClusterRole must grant exactly this.
EXPECTED_READS = (
    {(r.group, r.plural) for r in RESOURCES}
    | {(k.group, k.plural) for k in LOOKUP_KINDS}
    | {("", "pods/log")}
)

ALL = sorted(TARGETS)


def _pod_spec(manifests: tuple[Manifest, ...] | list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def _container(manifests: tuple[Manifest, ...] | list[Manifest]) -> dict[str, Any]:
    containers = _pod_spec(manifests)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _setting(manifests: tuple[Manifest, ...], name: str) -> str:
    data = settings_data(manifests)
    if name in data:
        return data[name]
    return str(Settings.model_fields[name.lower()].default)


# --- render and validate ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ALL)
def test_target_renders_the_expected_objects(target: str) -> None:
    kinds = {m["kind"] for m in render(target)}
    assert {
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
        "PersistentVolumeClaim", "Deployment", "Service", "NetworkPolicy",
    } <= kinds  # fmt: skip
    # The Secret is an example for people to fill in, never applied with placeholders.
    assert "Secret" not in kinds


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("target", ALL)
def test_rendered_objects_validate_against_kubernetes_schemas(target: str, version: str) -> None:
    for manifest in render(target):
        kubernetes_validate.validate(manifest, version, strict=True)


def test_secret_example_validates_and_is_not_rendered() -> None:
    example = yaml.safe_load((DEPLOY / "base" / "secret.example.yaml").read_text())
    kubernetes_validate.validate(example, SCHEMA_VERSIONS[-1], strict=True)
    listed = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())["resources"]
    assert "secret.example.yaml" not in listed
    container = _container(render("base"))
    refs = [s["secretRef"] for s in container["envFrom"] if "secretRef" in s]
    assert refs == [{"name": example["metadata"]["name"], "optional": True}]


def test_servicemonitor_component_scrapes_the_metrics_service(tmp_path: Any) -> None:
    manifests = render_with_components("eks", ["servicemonitor"], tmp_path)
    for manifest in manifests:
        if manifest["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(manifest, SCHEMA_VERSIONS[-1], strict=True)
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] in PATHS
    rules = one(manifests, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert any("k8s_monitor_last_success_timestamp_seconds" in rule["expr"] for rule in rules)


def test_alert_rules_use_metrics_the_daemon_exports() -> None:
    rules = yaml.safe_load(
        (DEPLOY / "components" / "servicemonitor" / "prometheusrule.yaml").read_text()
    )
    used = {
        name
        for group in rules["spec"]["groups"]
        for rule in group["rules"]
        for name in re.findall(r"k8s_monitor_[a-z0-9_]+", rule["expr"])
    }
    metrics = Metrics()
    metrics.observe_notification("slack", "sent")  # labelled families appear once used
    exported = {
        sample.name
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }
    assert used and used <= exported


# --- RBAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ALL)
def test_rbac_is_read_only_and_exactly_what_collection_reads(target: str) -> None:
    manifests = render(target)
    assert not of_kind(manifests, "Role")
    granted: set[tuple[str, str]] = set()
    for role in of_kind(manifests, "ClusterRole"):
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= READ_VERBS, rule
            assert "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
            assert "secrets" not in rule["resources"], rule
            assert "resourceNames" not in rule and "nonResourceURLs" not in rule, rule
            granted |= {(group, res) for group in rule["apiGroups"] for res in rule["resources"]}
            if "configmaps" in rule["resources"]:
                assert rule["verbs"] == ["get"], "ConfigMaps are read by name, never listed"
            if "pods/log" in rule["resources"]:
                assert rule["verbs"] == ["get"], "the log subresource only supports get"
    assert granted == EXPECTED_READS


@pytest.mark.parametrize("target", ALL)
def test_role_is_bound_to_the_pods_service_account(target: str) -> None:
    manifests = render(target)
    binding = one(manifests, "ClusterRoleBinding")
    account = one(manifests, "ServiceAccount")
    assert binding["roleRef"]["name"] == one(manifests, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    assert _pod_spec(manifests)["serviceAccountName"] == account["metadata"]["name"]


# --- pod security and lifecycle --------------------------------------------------------------


@pytest.mark.parametrize("target", ALL)
def test_pod_meets_restricted_pod_security(target: str) -> None:
    manifests = render(target)
    pod = _pod_spec(manifests)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert "fsGroup" in pod["securityContext"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    security = _container(manifests)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False
    namespace = one(manifests, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("target", ALL)
def test_deployment_is_a_single_recreated_replica_with_resources(target: str) -> None:
    manifests = render(target)
    spec = one(manifests, "Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    resources = _container(manifests)["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]
    assert _container(manifests).get("args", ["run"]) == ["run"]


@pytest.mark.parametrize("target", ALL)
def test_grace_period_outlasts_the_shutdown_deadline(target: str) -> None:
    manifests = render(target)
    deadline = float(_setting(manifests, "SHUTDOWN_DEADLINE_SECONDS"))
    assert _pod_spec(manifests)["terminationGracePeriodSeconds"] > deadline


@pytest.mark.parametrize("target", ALL)
def test_probes_hit_the_daemons_endpoints_on_metrics_port(target: str) -> None:
    manifests = render(target)
    container = _container(manifests)
    metrics_port = int(_setting(manifests, "METRICS_PORT"))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    expected = {
        "startupProbe": HEALTHZ_PATH,
        "livenessProbe": HEALTHZ_PATH,
        "readinessProbe": READYZ_PATH,
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path
        port = get["port"]
        assert (ports[port] if isinstance(port, str) else port) == metrics_port


@pytest.mark.parametrize("target", ALL)
def test_data_volume_holds_sessions_and_reports_and_tmp_is_writable(target: str) -> None:
    manifests = render(target)
    pod = _pod_spec(manifests)
    mounts = {m["mountPath"]: m["name"] for m in _container(manifests)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = one(manifests, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    for setting in ("SESSION_DIR", "REPORT_DIR"):
        path = PurePosixPath(_setting(manifests, setting))
        mount = next((m for m in mounts if PurePosixPath(m) in (path, *path.parents)), None)
        assert mount is not None, f"{setting}={path} is on no volume"
        source = volumes[mounts[mount]]
        assert source["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("target", ALL)
def test_settings_configmap_values_are_valid_settings(target: str) -> None:
    data = settings_data(render(target))
    Settings(_env_file=None, **{key.lower(): value for key, value in data.items()})  # type: ignore[call-arg]


# --- network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ALL)
def test_service_and_network_policy_select_the_pod(target: str) -> None:
    manifests = render(target)
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    service = one(manifests, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container_ports = {port["name"] for port in _container(manifests)["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports

    policy = one(manifests, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    metrics_port = int(_setting(manifests, "METRICS_PORT"))
    ingress_ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert ingress_ports == {metrics_port}
    egress = {(p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 443)} <= egress


# --- overlays --------------------------------------------------------------------------------


def test_eks_overlay_uses_irsa_bedrock_and_gp3() -> None:
    manifests = render("eks")
    account = one(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    data = settings_data(manifests)
    assert data["LLM_PROVIDER"] == "bedrock"
    assert data["AWS_REGION"]
    storage_class = one(manifests, "StorageClass")
    assert storage_class["provisioner"] == "ebs.csi.aws.com"
    assert storage_class["parameters"]["type"] == "gp3"
    claim = one(manifests, "PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == storage_class["metadata"]["name"]


def test_dev_overlay_is_quick_and_readable() -> None:
    data = settings_data(render("dev"))
    base = settings_data(render("base"))
    assert float(data["MONITORING_INTERVAL_MINUTES"]) < float(base["MONITORING_INTERVAL_MINUTES"])
    assert data["LOG_FORMAT"] == "console"
