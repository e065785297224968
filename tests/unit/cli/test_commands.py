"""The command line as a user meets it: argument errors, exit codes, machine-readable output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k8s_monitor import __version__
from k8s_monitor.cli import EXIT_CONFIG, main
from tests.faults.harness import rig

# Every command with the arguments it needs to get past argparse.
COMMANDS = [
    ["run"],
    ["once"],
    ["demo"],
    ["simulate"],
    ["analyze", "--from-file", "dump.json"],
    ["sessions", "list"],
    ["compare"],
    ["report"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
def test_an_unknown_option_prints_usage_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--no-such-option"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage: k8s-monitor" in err and "--no-such-option" in err


def test_no_command_and_an_unknown_command_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["frobnicate"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"k8s-monitor {__version__}"


@pytest.mark.parametrize("argv", [["once"], ["report"], ["sessions", "list"], ["compare"]])
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITORING_INTERVAL_MINUTES", "soon")
    assert main(argv) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("k8s-monitor: configuration error: MONITORING_INTERVAL_MINUTES:")
    assert "'soon'" in err


def test_report_without_reports_exits_1_saying_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPORT_DIR", str(tmp_path / "nothing-here"))
    assert main(["report", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nothing-here" in captured.err


def test_once_then_report_json_against_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig(tmp_path) as r:
        for name, value in r.env(log_level="ERROR").items():
            monkeypatch.setenv(name, value)
        r.sim.goto(1)  # a crash loop: the report has something to say
        assert main(["once"]) == 0
        capsys.readouterr()
        assert main(["report", "--json", "--last", "5"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert isinstance(reports, list) and len(reports) == 1
    report = reports[0]
    assert report["cycle"] == 1 and report["outcome"] in {"ok", "degraded"}
    assert report["cluster"] == "faults-sim" and report["mode"] == "persistent"
    assert sum(report["findings_by_severity"].values()) >= 1
    assert report["analysis_source"] in {"model", "fallback"} and report["summary"]
    assert {"findings", "incidents", "escalations", "usage", "started_at"} <= set(report)


def test_once_exits_1_when_the_cluster_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig(tmp_path) as r:
        env = r.env(log_level="ERROR", collect_timeout_seconds=2.0)
    # The simulator is gone: its kubeconfig now points at a closed port.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["once"]) == 1
    capsys.readouterr()
    assert main(["report", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "failed"
    assert report["error"]


def test_compare_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--cycles", "2", "--no-seed", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cycles"] == 2 and result["scenario"] == "incident-day"
    assert {"stateless", "persistent_every_cycle", "persistent_on_change"} <= set(result["modes"])
    assert not {m for m in result["modes"] if m.startswith("naive")}, "--no-seed skips them"
    assert isinstance(result["ratios"], dict)
