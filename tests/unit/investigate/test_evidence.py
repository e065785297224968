"""The evidence stage: playbooks per reason, bounded reads, redaction, caps, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from k8s_monitor.analysis.causes import link_causes
from k8s_monitor.analysis.findings import Finding
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.ledger import update_ledger
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.cluster.snapshot import ClusterSnapshot, LogTail, PodSpec
from k8s_monitor.errors import AccessDeniedError, ObjectNotFoundError
from k8s_monitor.investigate import EVIDENCE_KEY, gather_evidence
from k8s_monitor.investigate.evidence import MAX_EVIDENCE_BYTES
from k8s_monitor.investigate.readings import (
    exit_meaning,
    parse_image,
    pull_failure,
    scheduling_causes,
)
from k8s_monitor.redaction import Redactor
from tests.unit.analysis.causes_world import deployment, replicaset, workload_pod
from tests.unit.analysis.helpers import NOW, node, snapshot, terminated, waiting

REDACT = Redactor().redact


class FakeReads:
    """``EvidenceReads`` as ``LookupReads`` behaves: not found is None, RBAC gaps raise 403."""

    def __init__(
        self,
        configmaps: dict[tuple[str, str], dict[str, str]] | None = None,
        *,
        forbidden: frozenset[str] = frozenset(),
        logs: dict[tuple[str, str, str], str] | None = None,
    ) -> None:
        self.configmaps = configmaps or {}
        self.forbidden = forbidden
        self.logs = logs or {}
        self.calls: list[tuple[str, ...]] = []

    def _check(self, resource: str, *key: str) -> None:
        self.calls.append((resource, *key))
        if resource in self.forbidden:
            raise AccessDeniedError(
                f'{resource} "{key[-1]}" is forbidden: User "k8s-monitor" cannot get {resource}'
            )

    def configmap_keys(self, namespace: str, name: str) -> list[str] | None:
        self._check("configmaps", namespace, name)
        data = self.configmaps.get((namespace, name))
        return None if data is None else list(data)

    def previous_log(self, namespace: str, pod: str, container: str) -> str | None:
        self._check("pods/log", namespace, pod, container)
        return self.logs.get((namespace, pod, container))

    def replicaset_template(self, namespace: str, name: str) -> PodSpec | None:
        self._check("replicasets", namespace, name)
        raise ObjectNotFoundError(f"ReplicaSet {namespace}/{name} not found")


def _crashing(code: int = 1, reason: str = "Error") -> list[dict[str, Any]]:
    return [waiting("CrashLoopBackOff", restarts=6, last=terminated(code, reason))]


def _with_config(pod: dict[str, Any]) -> dict[str, Any]:
    container = pod["spec"]["containers"][0]
    container["env"] = [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "DATABASE_URL"}},
        },
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-token", "key": "token"}}},
    ]
    container["envFrom"] = [{"configMapRef": {"name": "shared-env"}}]
    pod["spec"]["volumes"] = [
        {
            "name": "kube-api-access",
            "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]},
        },
        {"name": "tls", "secret": {"secretName": "web-tls"}},
    ]
    return pod


def _gather(
    snap: ClusterSnapshot, reads: FakeReads | None, previous: Ledger | None = None
) -> tuple[list[Finding], Any]:
    findings = analyze(snap, now=NOW)
    outcome = gather_evidence(
        findings, snap, previous=previous or Ledger(), reads=reads, now=NOW, redact=REDACT
    )
    return outcome.findings, outcome


def _records(finding: Finding, kind: str) -> list[dict[str, Any]]:
    return [r for r in finding.evidence.get(EVIDENCE_KEY, []) if r["type"] == kind]


def _crash_world(**pod_options: Any) -> list[dict[str, Any]]:
    pod = workload_pod("web", 0, containers=_crashing(**pod_options))
    return [
        node("node-1"),
        deployment("web", replicas=1),
        replicaset("web", "abc", created="06:00"),
        _with_config(pod),
    ]


# --- crashes ----------------------------------------------------------------------------------


def test_crash_evidence_names_exit_code_log_and_config_without_values_or_secrets() -> None:
    snap = snapshot(*_crash_world(code=137, reason="OOMKilled"))
    snap.log_tails = [
        LogTail(namespace="shop", pod="web-abc-00", container="app", previous=True, text="boom")
    ]
    reads = FakeReads({("shop", "app-config"): {"DATABASE_URL": "postgres://u:hunter2@db/x"}})
    findings, outcome = _gather(snap, reads)
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    [termination] = _records(crash, "termination")
    assert termination["exit_code"] == 137 and termination["oom"] is True
    assert "OOM" in termination["meaning"]
    [log] = _records(crash, "log")
    assert log["text"] == "boom" and log.get("source", "snapshot") == "snapshot"
    refs = {(r["kind"], r["name"]): r for r in _records(crash, "config_ref")}
    assert refs[("ConfigMap", "app-config")]["keys"] == ["DATABASE_URL"]
    assert refs[("ConfigMap", "shared-env")]["exists"] is False
    assert "exists" not in refs[("Secret", "api-token")]  # never read, nothing inferred
    assert ("ConfigMap", "kube-root-ca.crt") not in refs
    assert "hunter2" not in json.dumps(crash.evidence)
    assert all(call[0] != "secrets" for call in reads.calls)
    # Two ConfigMaps read once each; the log came from the snapshot.
    assert reads.calls == [
        ("configmaps", "shop", "app-config"),
        ("configmaps", "shop", "shared-env"),
    ]
    assert outcome.requests <= 2 * outcome.investigated


def test_a_missing_configmap_found_by_a_read_becomes_the_cause() -> None:
    snap = snapshot(*_crash_world())
    reads = FakeReads({("shop", "shared-env"): {"A": "1"}})
    findings, _ = _gather(snap, reads)
    linked = link_causes(findings, snap, now=NOW)
    crash = next(f for f in linked if f.reason == "CrashLoopBackOff")
    assert crash.caused_by is None  # a crash is no config error: references are evidence only
    config_error = [
        node("node-1"),
        deployment("web", replicas=1),
        replicaset("web", "abc", created="06:00"),
        _with_config(
            workload_pod(
                "web",
                0,
                containers=[waiting("CreateContainerConfigError", message="")],
            )
        ),
    ]
    snap = snapshot(*config_error)
    findings, _ = _gather(snap, FakeReads({("shop", "shared-env"): {"A": "1"}}))
    linked = link_causes(findings, snap, now=NOW)
    error = next(f for f in linked if f.reason == "CreateContainerConfigError")
    assert error.caused_by is not None
    assert (error.caused_by.kind, error.caused_by.name, error.caused_by.reason) == (
        "ConfigMap",
        "app-config",
        "NotFound",
    )


def test_forbidden_configmaps_give_unreadable_evidence_and_a_gap_and_the_finding() -> None:
    snap = snapshot(*_crash_world())
    findings, outcome = _gather(snap, FakeReads(forbidden=frozenset({"configmaps"})))
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    notes = [r.get("note", "") for r in _records(crash, "config_ref") if r["kind"] == "ConfigMap"]
    assert notes and all("forbidden" in n for n in notes)
    [gap] = outcome.gaps
    assert (gap.resource, gap.reason) == ("configmaps", "forbidden")
    assert "configmaps" in gap.fix


def test_an_enormous_log_is_capped_and_redacted() -> None:
    snap = snapshot(*_crash_world())
    huge = "x" * 50_000 + " password=hunter2-secret-value\n"
    reads = FakeReads(logs={("shop", "web-abc-00", "app"): huge})
    findings, _ = _gather(snap, reads)
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    encoded = json.dumps(crash.evidence[EVIDENCE_KEY])
    assert len(encoded.encode()) <= MAX_EVIDENCE_BYTES
    [log] = _records(crash, "log")
    assert log["truncated"] is True and log["source"] == "lookup"
    assert "hunter2-secret-value" not in encoded


def test_recurring_findings_reuse_their_evidence_without_reads() -> None:
    snap = snapshot(*_crash_world())
    reads = FakeReads({("shop", "app-config"): {"DATABASE_URL": "x"}})
    findings, _ = _gather(snap, reads)
    ledger, _ = update_ledger(Ledger(), link_causes(findings, snap, now=NOW), now=NOW)
    again = FakeReads()
    later, outcome = _gather(snap, again, previous=ledger)
    assert again.calls == [] and outcome.investigated == 0
    crash = next(f for f in later if f.reason == "CrashLoopBackOff")
    assert _records(crash, "config_ref")


def test_the_request_budget_holds_when_a_pod_references_many_configmaps() -> None:
    world = _crash_world()
    pod = world[-1]
    pod["spec"]["volumes"] += [
        {"name": f"cm{i}", "configMap": {"name": f"cm-{i}"}} for i in range(10)
    ]
    findings, outcome = _gather(snapshot(*world), FakeReads())
    assert outcome.requests <= 2 * outcome.investigated
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    assert any("budget" in r.get("note", "") for r in _records(crash, "config_ref"))


def test_without_reads_evidence_comes_from_the_snapshot_alone() -> None:
    findings, outcome = _gather(snapshot(*_crash_world()), None)
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    assert _records(crash, "termination") and not _records(crash, "unreadable")
    assert outcome.requests == 0


# --- rollouts, scheduling, images, nodes --------------------------------------------------


def test_rollout_evidence_diffs_the_pod_templates_of_both_revisions() -> None:
    old = workload_pod("web", 0, template_hash="old", ready=True)
    new = workload_pod("web", 0, template_hash="new", containers=_crashing())
    old["spec"]["containers"][0]["image"] = "shop/web:1.0"
    new["spec"]["containers"][0]["image"] = "shop/web:2.0"
    new["spec"]["containers"][0]["env"] = [{"name": "FEATURE_X", "value": "on"}]
    objects = [
        node("node-1"),
        deployment("web", replicas=2, available=1),
        replicaset("web", "old", revision=3, created="06:00"),
        replicaset("web", "new", revision=4, created="09:40"),
        old,
        new,
    ]
    findings, _ = _gather(snapshot(*objects), FakeReads())
    crash = next(f for f in findings if f.reason == "CrashLoopBackOff")
    [rollout] = _records(crash, "rollout")
    assert (rollout["old_revision"], rollout["new_revision"]) == ("3", "4")
    assert "container app image: shop/web:1.0 -> shop/web:2.0" in rollout["template_diff"]
    assert "container app env FEATURE_X added" in rollout["template_diff"]
    assert rollout["failing_pods_in_new"] == 1 and rollout.get("failing_pods_in_old", 0) == 0


def test_node_evidence_counts_pods_and_heartbeat_age() -> None:
    objects = [node("node-bad", ready="Unknown", since="09:00")]
    objects += [workload_pod("web", i, node_name="node-bad") for i in range(3)]
    findings, _ = _gather(snapshot(*objects), None)
    [state] = _records(next(f for f in findings if f.reason == "NodeNotReady"), "node")
    assert state["pods_scheduled"] == 3 and state["heartbeat_age_seconds"] == 3600


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint "
            "{dedicated: gpu}. preemption: 0/5 nodes are available.",
            [("insufficient_cpu", 2), ("taint_not_tolerated", 3)],
        ),
        (
            "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s)"
            " didn't match Pod's node affinity/selector.",
            [("volume_zone_conflict", 1), ("selector_matches_no_node", 2)],
        ),
        (
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
            [("unbound_pvc", 0)],
        ),
        ("0/4 nodes are available: 4 Too many pods.", [("insufficient_pods", 4)]),
    ],
)
def test_scheduler_messages_parse_into_causes(
    message: str, expected: list[tuple[str, int]]
) -> None:
    assert [(c.cause, c.nodes) for c in scheduling_causes(message)] == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ("docker.io", "library/nginx", "latest", "")),
        ("ghcr.io/acme/api:1.2", ("ghcr.io", "acme/api", "1.2", "")),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:abc",
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "api", "", "sha256:abc"),
        ),
        ("localhost:5000/tool:dev", ("localhost:5000", "tool", "dev", "")),
    ],
)
def test_image_references_parse(image: str, expected: tuple[str, str, str, str]) -> None:
    assert parse_image(image) == expected


@pytest.mark.parametrize(
    ("message", "failure"),
    [
        ('failed to pull "x": manifest unknown: manifest unknown', "not_found"),
        (
            "pull access denied, repository does not exist or may require authorization",
            "unauthorized",
        ),
        ("toomanyrequests: You have reached your pull rate limit", "rate_limited"),
        ("dial tcp: lookup registry.internal on 10.0.0.2:53: no such host", "dns_or_network"),
        ("x509: certificate signed by unknown authority", "tls"),
    ],
)
def test_pull_failures_are_classified(message: str, failure: str) -> None:
    assert pull_failure(message) == failure


def test_exit_codes_have_their_usual_meaning() -> None:
    assert "not found" in exit_meaning(127)
    assert "SIGSEGV" in exit_meaning(139)
    assert "SIGTERM" in exit_meaning(143)
