"""``run``, ``once``, ``demo`` and ``report``: the commands that drive monitoring cycles.

Settings are loaded before anything heavy is imported, so a bad value is reported in well under
a second, and before the cluster or the session is touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from k8s_monitor.cli.render import one_line, print_json, print_table, self_command
from k8s_monitor.config import LogFormat, LogLevel, Settings, load_settings
from k8s_monitor.errors import SessionLockedError, StorageError

if TYPE_CHECKING:
    from k8s_monitor.report import CycleReport
    from k8s_monitor.wiring import Monitor

EXIT_FAILED = 1

DEMO_SESSION_ID = "k8s-monitor-demo"
DEMO_INTERVAL_SECONDS = 2.0
SUMMARY_WIDTH = 160  # one terminal line of the per-cycle summary


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the daemon: a cycle now, then every interval")
    run.set_defaults(handler=_run)

    once = subparsers.add_parser("once", help="run one cycle against the configured cluster")
    once.set_defaults(handler=_once)

    demo = subparsers.add_parser(
        "demo", help="run the daemon in persistent mode through a simulated incident"
    )
    demo.add_argument("--scenario", default="incident-day", help="scenario name or YAML file")
    demo.add_argument(
        "--interval-seconds", type=float, default=DEMO_INTERVAL_SECONDS, help="time between cycles"
    )
    demo.add_argument("--session-id", default=DEMO_SESSION_ID)
    demo.set_defaults(handler=_demo)

    report = subparsers.add_parser("report", help="show the latest cycle reports")
    report.add_argument("--last", type=int, default=1, help="how many reports")
    report.add_argument("--json", action="store_true", help="print the reports as JSON")
    report.set_defaults(handler=_report)


# --- commands --------------------------------------------------------------------------------


def _run(_: argparse.Namespace) -> int:
    monitor = _monitor_from_environment()
    if monitor is None:
        return EXIT_FAILED
    from k8s_monitor.daemon import Daemon

    try:
        return Daemon(monitor.settings, monitor.runner, monitor.metrics).run()
    finally:
        monitor.close()


def _once(_: argparse.Namespace) -> int:
    monitor = _monitor_from_environment()
    if monitor is None:
        return EXIT_FAILED
    from k8s_monitor.report import Outcome

    try:
        report = monitor.runner.run()
    finally:
        monitor.close()
    return EXIT_FAILED if report.outcome is Outcome.FAILED else 0


def _demo(args: argparse.Namespace) -> int:
    from k8s_monitor.daemon import Daemon, DaemonOptions
    from k8s_monitor.sim import SimServer, load_scenario

    # People read the per-cycle summary printed below; logs only speak up for problems.
    _configure_logging(load_settings(), level=LogLevel.WARNING, stream=sys.stderr)
    scenario = load_scenario(args.scenario)
    with (
        tempfile.TemporaryDirectory(prefix="k8s-monitor-demo-") as tmp,
        SimServer(scenario, host="127.0.0.1", port=0) as server,
    ):
        # The simulator accepts any token; this one only makes the kubeconfig ordinary.
        kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig", token="demo")  # noqa: S106
        settings = load_settings(
            enable_long_context=True,
            session_id=args.session_id,
            monitoring_interval_minutes=args.interval_seconds / 60.0,
            kubeconfig=kubeconfig,
            kube_context=None,
            cluster_name="demo-sim",
            metrics_port=0,
        )
        _reset_demo_state(settings)
        monitor = _assemble_or_explain(settings)
        if monitor is None:
            return EXIT_FAILED
        _print_demo_header(settings, scenario_name=args.scenario, steps=server.step_count)
        options = DaemonOptions(
            max_cycles=server.step_count,
            before_cycle=lambda n: _advance(server, n),
            after_cycle=lambda report: _print_cycle(report, server.step_name),
        )
        try:
            code = Daemon(settings, monitor.runner, monitor.metrics, options).run()
        finally:
            monitor.close()
        _print_demo_footer(settings)
        return code


def _report(args: argparse.Namespace) -> int:
    settings = load_settings()
    from k8s_monitor.report import latest_reports, read_report

    paths = latest_reports(settings.report_dir, max(1, args.last))
    if not paths:
        print(f"no cycle reports in {settings.report_dir}", file=sys.stderr)
        return EXIT_FAILED
    reports = [read_report(path) for path in paths]
    if args.json:
        import msgspec

        print_json([msgspec.to_builtins(r) for r in reports])
        return 0
    print_table([_report_row(r) for r in reports], _REPORT_COLUMNS)
    return 0


# --- helpers ---------------------------------------------------------------------------------

_REPORT_COLUMNS = (
    "cycle",
    "started",
    "outcome",
    "health",
    "critical",
    "warning",
    "new",
    "resolved",
    "analysis",
    "report",
)


def _report_row(report: CycleReport) -> dict[str, Any]:
    return {
        "cycle": report.cycle,
        "started": report.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "outcome": report.outcome.value,
        "health": report.overall_health,
        "critical": report.findings_by_severity.get("critical", 0),
        "warning": report.findings_by_severity.get("warning", 0),
        "new": len(report.incident_changes.get("new", [])),
        "resolved": len(report.incident_changes.get("resolved", [])),
        "analysis": report.analysis_source,
        "report": report.report_path,
    }


def _configure_logging(
    settings: Settings, *, level: LogLevel | None = None, stream: Any = None
) -> None:
    from k8s_monitor.logs import configure_logging
    from k8s_monitor.redaction import Redactor, guarded

    configure_logging(
        (level or settings.log_level).value,
        settings.log_format if level is None else LogFormat.CONSOLE,
        redact=guarded("log", Redactor.from_settings(settings)),
        stream=stream,
    )


def _monitor_from_environment() -> Monitor | None:
    settings = load_settings()
    _configure_logging(settings)
    return _assemble_or_explain(settings)


def _assemble_or_explain(settings: Settings) -> Monitor | None:
    """Build the monitor, or say in one line why it cannot start (locked or unwritable session).

    Files named by settings are read before the heavy client libraries are imported, so a bad
    one is reported at once.
    """
    from k8s_monitor.analysis.services import load_catalog

    catalog = load_catalog(settings.services_file)
    from k8s_monitor.wiring import assemble

    try:
        return assemble(settings, catalog=catalog)
    except SessionLockedError as exc:
        print(f"k8s-monitor: cannot start: {exc}", file=sys.stderr)
    except StorageError as exc:
        print(f"k8s-monitor: cannot start: session storage: {exc}", file=sys.stderr)
    return None


def _reset_demo_state(settings: Settings) -> None:
    """The demo always starts from a clean session, and says so: reset is never silent."""
    from k8s_monitor.sessions import SessionManager
    from k8s_monitor.wiring import ledger_path

    manager = SessionManager.from_settings(settings)
    if manager.load_session(settings.session_id) is not None:
        manager.delete_session(settings.session_id)
        print(f"reset the previous demo session '{settings.session_id}'")
    ledger_path(settings).unlink(missing_ok=True)


def _advance(server: Any, cycle: int) -> None:
    if cycle > 1:
        server.advance()


def _print_demo_header(settings: Settings, *, scenario_name: str, steps: int) -> None:
    print(
        f"k8s-monitor demo: scenario '{scenario_name}' ({steps} steps), persistent mode, "
        f"provider {settings.resolved_provider.value}, one cycle every "
        f"{settings.interval_seconds:g}s\n"
    )


def _print_cycle(report: CycleReport, step_name: str) -> None:
    counts = report.findings_by_severity
    print(
        f"cycle {report.cycle}  [{step_name}]  health={report.overall_health}  "
        f"critical={counts.get('critical', 0)} warning={counts.get('warning', 0)}  "
        f"analysis={report.analysis_source}  {report.duration_seconds:.2f}s"
    )
    for status in ("new", "flapping", "resolved"):
        for incident in report.incident_changes.get(status, []):
            print(f"    {status.upper():9} {incident.reason:24} {incident.subject}")
    if report.error:
        print(f"    error: {report.error}")
    if report.summary:
        print(f"    summary: {one_line(report.summary, SUMMARY_WIDTH)}")


def _print_demo_footer(settings: Settings) -> None:
    session_file = settings.session_dir / f"{settings.session_id}.json"
    command = self_command()
    print(
        f"\nsession: {session_file}\n"
        f"reports: {settings.report_dir}/ (latest: {command} report)\n"
        f"inspect: {command} sessions show {settings.session_id}"
    )
