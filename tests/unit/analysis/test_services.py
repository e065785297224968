from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from k8s_monitor.analysis.services import (
    Priority,
    load_catalog,
    parse_catalog,
    parse_duration,
)
from k8s_monitor.errors import ConfigurationError

GOOD = """\
defaults:
  priority: P3
services:
  - name: payments
    namespaces: [payments]
    priority: P0
    max_downtime: 5m
    owner: team-payments
    channel: "#payments"
  - name: web
    selector: {app: web}
    priority: P1
    startup_grace: 90s
    known_issues:
      - pattern: "HighRestarts"
        reason: "leak fixed in 2.4"
"""


def test_without_a_file_system_namespaces_are_p1_and_the_rest_p2() -> None:
    catalog = load_catalog(None)
    assert catalog.match("kube-system").priority is Priority.P1
    assert catalog.match("ingress-nginx").priority is Priority.P1
    assert catalog.match("").priority is Priority.P1  # cluster-scoped: nodes, the monitor
    assert catalog.match("shop").priority is Priority.P2


def test_services_match_by_namespace_and_selector_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(GOOD)
    catalog = load_catalog(path)
    payments = catalog.match("payments", {"app": "web"})
    assert payments.name == "payments"
    assert payments.max_downtime == timedelta(minutes=5)
    web = catalog.match("shop", {"app": "web", "tier": "front"})
    assert (web.name, web.priority, web.startup_grace) == (
        "web",
        Priority.P1,
        timedelta(seconds=90),
    )
    assert catalog.match("shop", {"app": "api"}).priority is Priority.P3


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("services:\n  - name: a\n    priority: P9\n", 3, "priority"),
        ("services:\n  - name: a\n    max_downtime: soon\n", 3, "duration"),
        ("services:\n  - name: a\n    colour: blue\n", 3, "colour"),
        ("services:\n  - name: a\n  - name: a\n", 1, "twice"),
        (
            "services:\n  - name: a\n    known_issues:\n      - pattern: '('\n        reason: x\n",
            4,
            "regular expression",
        ),
        ("services: [\n", 2, "invalid YAML"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_bad_files_name_setting_file_line_and_problem(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message.startswith("SERVICES_FILE: ")
    assert str(path) in message
    assert f"line {line}:" in message
    assert fragment in message


def test_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_catalog(tmp_path / "missing.yaml")


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration(45) == timedelta(seconds=45)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "5x", "-1", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_empty_file_means_defaults() -> None:
    assert parse_catalog("").services == ()
