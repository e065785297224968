"""The monitor's own alert rules: promtool checks and unit-tests them, each links a runbook in
the README, and promtool accepts what the daemon serves on /metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from k8s_monitor.config import load_settings
from k8s_monitor.sim import SimServer, load_scenario
from k8s_monitor.wiring import assemble
from tests.integration.alertmanager import PROMTOOL_PACKAGE, require_tool

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy" / "components" / "servicemonitor" / "prometheusrule.yaml"
RULE_TESTS = REPO / "tests" / "data" / "promtool" / "monitor_rules_test.yaml"
README = REPO / "README.md"


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["spec"]["groups"] for rule in group["rules"]]


def _promtool() -> str:
    return require_tool(("promtool",), PROMTOOL_PACKAGE)


def _rule_file(directory: Path) -> Path:
    """The PrometheusRule's groups as the plain rule file Prometheus and promtool read."""
    document = yaml.safe_load(RULES.read_text())
    path = directory / "monitor_rules.yaml"
    path.write_text(yaml.safe_dump({"groups": document["spec"]["groups"]}))
    return path


def _run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=60, check=False)


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    result = _run([_promtool(), "check", "rules", str(_rule_file(tmp_path))])
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout.decode()


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    promtool = _promtool()
    _rule_file(tmp_path)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = _run([promtool, "test", "rules", str(tmp_path / RULE_TESTS.name)])
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_every_rule_is_unit_tested_firing() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in _rules()} <= fired


def _readme_anchors() -> set[str]:
    anchors = set()
    for line in README.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_rule_has_a_runbook_into_the_readme() -> None:
    anchors = _readme_anchors()
    for rule in _rules():
        url = rule["annotations"]["runbook_url"]
        assert url.split("#", 1)[1] in anchors, (rule["alert"], url)
        assert rule["labels"]["severity"] in ("critical", "warning", "info")


def test_promtool_accepts_the_daemons_metrics(tmp_path: Path) -> None:
    promtool = _promtool()
    with SimServer(load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        settings = load_settings(
            _env_file=None,
            kubeconfig=server.write_kubeconfig(tmp_path / "kubeconfig", token="metrics"),
            session_dir=tmp_path / "sessions",
            report_dir=tmp_path / "reports",
            llm_provider="offline",
            metrics_port=0,
        )
        monitor = assemble(settings)
        try:
            monitor.runner.run()
            server.advance()
            monitor.runner.run()
            body = monitor.metrics.render()
        finally:
            monitor.close()
    assert b"k8s_monitor_cycle_interval_seconds 900.0" in body
    assert b"k8s_monitor_notifications_pending 0.0" in body
    result = _run([promtool, "check", "metrics"], stdin=body)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
