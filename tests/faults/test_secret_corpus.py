"""The adversarial corpus: every secret kind, in every string the collector reads, never leaves.

Two layers. At the boundary, each kind of API object is decoded (the collector's own page
decoder) with every string field planted, one object per secret: nothing of a secret survives
in the snapshot. End to end, the daemon runs against the simulator and the fake model in both
modes with the corpus in pod and node condition messages, Deployment conditions, annotations,
labels, args, events and a log tail cut inside a PEM block; then every output is searched:
model requests, sessions, reports, the ledger, the spool, Slack and webhook payloads and logs.
The guard before each sink must not have fired either: a hit there means the boundary missed.
And with the boundary switched off, the guards alone still let nothing out (fail-closed).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from k8s_monitor.cluster.pages import decode_page
from k8s_monitor.cluster.sanitize import sanitize
from k8s_monitor.cluster.snapshot import KINDS
from k8s_monitor.redaction import GUARD, Redactor
from k8s_monitor.sim.view import ListCollection, StaticView
from tests.faults.corpus import (
    CORPUS,
    PEM_TAIL,
    all_placements,
    identity_safe,
    placements,
    plant,
)
from tests.faults.harness import Rig, captured_logs, rig, run_cycles
from tests.faults.planted import CRASHLOOP_STEP, PlantingSource, planted_scenario

JSON = dict[str, Any]


def test_corpus_has_forty_kinds_that_fit_no_identity_syntax() -> None:
    assert len({s.kind for s in CORPUS}) >= 40
    assert all(identity_safe(s.text) for s in CORPUS)
    assert all(s.needle in s.text for s in CORPUS)


def test_placements_follow_the_field_table() -> None:
    """A new string field in any struct is a new placement, with nobody listing it."""
    paths = set(all_placements())
    assert ("Pod", ("status", "conditions", "*", "message")) in paths
    assert ("Node", ("status", "conditions", "*", "message")) in paths
    assert ("Deployment", ("status", "conditions", "*", "message")) in paths
    assert ("Event", ("message",)) in paths
    assert len(paths) >= 250


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_secret_survives_the_boundary_in_any_field(kind: str) -> None:
    struct_type, _ = KINDS[kind]
    paths = placements(kind)
    items: list[JSON] = []
    for secret in CORPUS:
        obj: JSON = {}
        for path in paths:
            plant(obj, path, secret.text)
        items.append(obj)
    page = decode_page(json.dumps({"items": items, "metadata": {}}).encode(), struct_type)
    assert page.items is not None and len(page.items) == len(CORPUS) and page.skipped == 0
    redactor = Redactor()
    leaks = []
    for secret, item in zip(CORPUS, page.items, strict=True):
        sanitize(item, redactor)
        out = msgspec.json.encode(item).decode()
        if secret.needle in out:
            leaks.append(f"{kind}/{secret.kind}")
        # Every placement was decoded and redacted, not dropped.
        assert out.count("[REDACTED:") >= len(paths), (kind, secret.kind)
    print(f"FIGURE corpus {kind}: {len(paths)} fields x {len(CORPUS)} secrets, {len(leaks)} leaks")
    assert leaks == []


# --- end to end ---------------------------------------------------------------------------------

BLOB = " | ".join(s.text for s in CORPUS)
LOG_LINES = [PEM_TAIL, *(f"ERROR {s.text}" for s in CORPUS)]
WORKLOAD = ("shop", "checkout")


class CorpusSource(PlantingSource):
    """The small scenario with the corpus in every free-text field of checkout and the nodes."""

    def view(self, step: int, now: datetime) -> StaticView:
        view = super().view(step, now)
        collections = dict(view.collections)
        for name, plant_into in (("pods", _plant_pod), ("nodes", _plant_conditions)):
            items = collections[name]
            collections[name] = ListCollection(
                [plant_into(obj) for obj in items.items(0, len(items))]
            )
        deployments = collections.get("deployments")
        if deployments is not None:
            collections["deployments"] = ListCollection(
                [_plant_deployment(d) for d in deployments.items(0, len(deployments))]
            )
        return StaticView(view.resource_version, view.now, collections, view.container_logs)


def _mine(obj: JSON) -> bool:
    meta = obj.get("metadata", {})
    return bool(
        meta.get("namespace") == WORKLOAD[0] and meta.get("name", "").startswith("checkout")
    )


def _plant_pod(pod: JSON) -> JSON:
    if not _mine(pod):
        return pod
    pod = _plant_conditions(pod)
    pod["metadata"].setdefault("labels", {})["planted.example.com/note"] = BLOB
    pod["metadata"].setdefault("finalizers", []).append(BLOB)
    pod["status"]["message"] = BLOB
    for status in pod["status"].get("containerStatuses", []):
        for state in ("state", "lastState"):
            for detail in status.get(state, {}).values():
                if isinstance(detail, dict) and "reason" in detail:
                    detail["message"] = BLOB
    return pod


def _plant_deployment(deployment: JSON) -> JSON:
    return _plant_conditions(deployment) if _mine(deployment) else deployment


def _plant_conditions(obj: JSON) -> JSON:
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {}).setdefault("annotations", {})["planted.example.com/blob"] = BLOB
    for condition in obj.get("status", {}).get("conditions", []):
        condition["message"] = BLOB
    return obj


def _haystacks(r: Rig, logs: str) -> dict[str, str]:
    out = {
        "model_requests": json.dumps([rec.body for rec in r.fake.records], ensure_ascii=False),
        "log_output": logs,
        "notifications": json.dumps(
            [[rec.path, rec.body, rec.headers] for rec in r.receiver.received], ensure_ascii=False
        ),
    }
    for name, root in {"session_dir": r.session_dir, "reports": r.report_dir}.items():
        out[name] = "\n".join(
            p.read_bytes().decode(errors="replace") for p in sorted(root.rglob("*")) if p.is_file()
        )
    return out


def test_corpus_never_leaves_the_daemon_in_either_mode(tmp_path: Path) -> None:
    scenario = planted_scenario(tmp_path, log_lines=LOG_LINES, event_messages=[])
    source = CorpusSource(
        scenario, workload="/".join(WORKLOAD), annotations={"planted.example.com/a": BLOB},
        args=[BLOB, "--password", "ArgvSp1itPl4nt3d"],
    )  # fmt: skip
    hits_before = GUARD.hits()
    with rig(tmp_path, source) as r:
        tails = {"log_tail_lines": 200, "log_tail_bytes": 65_536, "log_level": "DEBUG"}
        slack = {"slack_webhook_url": f"{r.receiver.url}/slack"}
        with captured_logs(r.settings(**tails)) as stream:
            for persistent in (True, False):
                source.event_messages = []
                r.sim.goto(0)
                monitor = r.monitor(
                    session_id=f"corpus-{'persistent' if persistent else 'stateless'}",
                    enable_long_context=persistent,
                    **tails,
                    **slack,
                )
                try:
                    run_cycles(monitor, 1)
                    source.event_messages = [f"probe failed: {s.text}" for s in CORPUS]
                    r.sim.goto(CRASHLOOP_STEP)
                    run_cycles(monitor, 2)
                finally:
                    monitor.close()
        haystacks = _haystacks(r, stream.getvalue())

    sent = haystacks["model_requests"]
    assert "[REDACTED:private_key]" in sent, "the PEM tail reached the model"
    assert r.receiver.received, "notifications went out"
    paths = {rec.path for rec in r.receiver.received}
    assert any(p.endswith("/slack") for p in paths), paths
    needles = {s.kind: s.needle for s in CORPUS}
    needles["argv_split"] = "ArgvSp1itPl4nt3d"
    leaks = sorted(
        f"{kind} in {where}"
        for kind, needle in needles.items()
        for where, text in haystacks.items()
        if needle in text
    )
    new_hits = {
        sink: count - hits_before.get(sink, 0)
        for sink, count in GUARD.hits().items()
        if count != hits_before.get(sink, 0)
    }
    print(
        f"FIGURE secret corpus e2e: {len(CORPUS)} kinds, {len(haystacks)} outputs, 2 modes, "
        f"{len(leaks)} leaks, guard hits {new_hits}"
    )
    # The planted text reached every output that carries cluster text, redacted.
    for where in ("model_requests", "notifications", "reports", "session_dir"):
        assert "[REDACTED:" in haystacks[where], where
    assert leaks == [], "\n".join(leaks)
    assert new_hits == {}, f"the boundary missed what the guard caught: {new_hits}"


def test_with_the_boundary_off_the_guards_still_stop_every_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail-closed: were collection to miss everything, the sinks' guards catch it and count."""
    import k8s_monitor.cluster.collect as collect

    monkeypatch.setattr(collect, "sanitize", lambda item, redactor: None)
    scenario = planted_scenario(tmp_path, log_lines=["ERROR starting"], event_messages=[])
    source = CorpusSource(scenario, workload="/".join(WORKLOAD), annotations={}, args=[])
    hits_before = GUARD.hits()
    with rig(tmp_path, source) as r:
        with captured_logs(r.settings(log_level="DEBUG")) as stream:
            monitor = r.monitor(slack_webhook_url=f"{r.receiver.url}/slack")
            try:
                run_cycles(monitor, 1)
                source.event_messages = [f"probe failed: {s.text}" for s in CORPUS]
                r.sim.goto(CRASHLOOP_STEP)
                run_cycles(monitor, 2)
            finally:
                monitor.close()
        haystacks = _haystacks(r, stream.getvalue())
    leaks = sorted(
        f"{s.kind} in {where}"
        for s in CORPUS
        for where, text in haystacks.items()
        if s.needle in text
    )
    caught = {
        sink: count - hits_before.get(sink, 0)
        for sink, count in GUARD.hits().items()
        if count > hits_before.get(sink, 0)
    }
    print(f"FIGURE guard with the boundary off: {len(leaks)} leaks, hits {caught}")
    assert leaks == [], "\n".join(leaks)
    assert {"model_request", "notification", "report"} <= set(caught), caught
