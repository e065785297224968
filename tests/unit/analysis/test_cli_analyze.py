"""``k8s-monitor analyze`` on kubectl dumps: JSON, YAML documents, single objects, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from k8s_monitor.cli import analyze as analyze_cli
from k8s_monitor.errors import ConfigurationError
from tests.unit.analysis import helpers

DATA = Path(__file__).resolve().parents[2] / "data"
NOW = f"{helpers.NOW:%Y-%m-%dT%H:%M:%SZ}"  # the day the dumps were taken


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    analyze_cli.register(parser.add_subparsers())
    args = parser.parse_args(["analyze", *argv])
    return int(args.handler(args))


def test_json_output_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--from-file", str(DATA / "nodes.json"), "--now", NOW, "--format", "json") == 0
    out = json.loads(capsys.readouterr().out)
    first = out["findings"][0]
    assert {
        "kind",
        "namespace",
        "name",
        "objects",
        "reason",
        "severity",
        "message",
        "evidence",
    } <= first.keys()
    assert first["namespace"] == ""  # cluster-scoped
    assert first["objects"][0] == {"kind": "Node", "namespace": "", "name": first["name"]}
    assert {f["reason"] for f in out["findings"]} >= {"NodeNotReady", "NodePressure"}


def test_yaml_documents_and_single_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = json.loads((DATA / "crashloop-deployment.json").read_text())["items"]
    multi = tmp_path / "dump.yaml"
    multi.write_text(yaml.safe_dump_all(items))
    run("--from-file", str(multi), "--now", NOW, "--format", "json")
    from_yaml = json.loads(capsys.readouterr().out)
    run("--from-file", str(DATA / "crashloop-deployment.json"), "--now", NOW, "--format", "json")
    assert from_yaml == json.loads(capsys.readouterr().out)

    single = tmp_path / "pod.json"
    single.write_text(json.dumps(items[2]))
    run("--from-file", str(single), "--now", NOW, "--format", "json")
    reasons = {f["reason"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert reasons == {"CrashLoopBackOff"}


def test_table_output_and_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    dump = str(DATA / "crashloop-deployment.json")
    assert run("--from-file", dump, "--now", NOW) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["SEVERITY", "REASON", "SUBJECT"]
    assert "Deployment/shop/web" in out
    assert run("--from-file", dump, "--now", NOW, "--fail-on", "critical") == 1
    healthy = str(DATA / "healthy.json")
    assert run("--from-file", healthy, "--now", NOW, "--fail-on", "warning") == 0


def test_services_file_is_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    services = tmp_path / "services.yaml"
    services.write_text("services:\n- name: web\n  namespaces: [shop]\n  priority: P0\n")
    run(
        "--from-file",
        str(DATA / "crashloop-deployment.json"),
        "--now",
        NOW,
        "--services",
        str(services),
        "--format",
        "json",
    )
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["evidence"].get("service") for f in findings} == {"web"}


def test_unreadable_or_garbage_dumps_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        run("--from-file", str(tmp_path / "missing.json"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{ this is: [not valid")
    with pytest.raises(ConfigurationError):
        run("--from-file", str(garbage))


def test_bad_now_is_rejected() -> None:
    with pytest.raises(SystemExit):
        run("--from-file", "x.json", "--now", "yesterday")


def test_without_now_a_dump_is_judged_near_its_capture_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # oomkilled.json holds a pod OOM-killed two minutes before its newest timestamp: still news.
    run("--from-file", str(DATA / "oomkilled.json"), "--format", "json")
    found = {(f["name"], f["reason"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    assert ("worker", "OOMKilled") in found


def test_dump_now_is_newest_timestamp_plus_margin_capped_by_the_clock() -> None:
    from datetime import UTC, datetime, timedelta

    objects = [
        {"a": "2024-05-14T09:00:00Z", "b": [{"c": "2024-05-14T09:30:00.5+00:00"}]},
        {"d": "not a time", "e": 3},
    ]
    clock = datetime(2030, 1, 1, tzinfo=UTC)
    expected = datetime(2024, 5, 14, 9, 30, 0, 500000, tzinfo=UTC) + analyze_cli.DUMP_MARGIN
    assert analyze_cli.dump_now(objects, clock) == expected
    early = datetime(2024, 5, 14, 9, 40, tzinfo=UTC)
    assert analyze_cli.dump_now(objects, early) == early
    assert analyze_cli.dump_now([{"x": 1}], clock) == clock
    assert timedelta(minutes=15) < analyze_cli.DUMP_MARGIN < timedelta(hours=1)


def test_an_object_of_the_wrong_shape_is_skipped_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = json.loads((DATA / "crashloop-deployment.json").read_text())["items"]
    broken = json.loads(json.dumps(items[3]))
    broken["metadata"]["name"] = "broken"
    broken["status"]["containerStatuses"] = "not a list"
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"kind": "List", "items": [*items, broken]}))
    assert run("--from-file", str(dump), "--now", NOW, "--format", "json") == 0
    captured = capsys.readouterr()
    assert "skipped Pod/broken" in captured.err
    assert {f["reason"] for f in json.loads(captured.out)["findings"]} == {
        "CrashLoopBackOff",
        "DeploymentUnavailable",
    }


def test_raw_api_lists_give_their_items_a_kind(tmp_path: Path) -> None:
    items = json.loads((DATA / "crashloop-deployment.json").read_text())["items"]
    pods = [{k: v for k, v in i.items() if k != "kind"} for i in items if i["kind"] == "Pod"]
    dump = tmp_path / "podlist.json"
    dump.write_text(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": pods}))
    objects = analyze_cli.load_objects(dump)
    assert {o["kind"] for o in objects} == {"Pod"} and len(objects) == 3
