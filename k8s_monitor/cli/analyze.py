"""``k8s-monitor analyze --from-file DUMP``: the deterministic analysis on a kubectl dump.

Reads what ``kubectl get ... -o json`` or ``-o yaml`` prints (a List, a single object, or YAML
documents), builds a snapshot and prints the findings. Useful for post-mortems: ``--now`` analyses
the dump as of the moment it was captured.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import yaml

from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.rules import analyze
from k8s_monitor.analysis.services import load_catalog
from k8s_monitor.cli.render import print_json, print_table
from k8s_monitor.cluster.snapshot import snapshot_from_objects
from k8s_monitor.errors import ConfigurationError

EXIT_FINDINGS = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="analyse a kubectl dump (post-mortem)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from-file", required=True, type=Path, metavar="DUMP")
    parser.add_argument("--now", type=_rfc3339, default=None, metavar="RFC3339")
    parser.add_argument("--services", type=Path, default=None, metavar="FILE")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--cluster", default="dump", help="cluster name shown in findings")
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default=None,
        metavar="SEVERITY",
        help="exit 1 when a finding is at least this severe (critical, warning, info)",
    )
    parser.set_defaults(handler=run)


def _rfc3339(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def load_objects(path: Path) -> list[dict[str, Any]]:
    """Every API object in a JSON or YAML dump, Lists flattened."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("--from-file", f"{path}: cannot be read: {exc}") from exc
    try:
        documents: list[Any] = [orjson.loads(text)]
    except orjson.JSONDecodeError:
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ConfigurationError(
                "--from-file", f"{path}: neither JSON nor YAML: {exc}"
            ) from exc
    objects: list[dict[str, Any]] = []
    for document in documents:
        _flatten(document, objects)
    return objects


def _flatten(document: Any, into: list[dict[str, Any]]) -> None:
    if isinstance(document, list):
        for item in document:
            _flatten(item, into)
    elif isinstance(document, dict):
        if isinstance(document.get("items"), list) and str(document.get("kind", "List")).endswith(
            "List"
        ):
            for item in document["items"]:
                _flatten(item, into)
        elif document.get("kind"):
            into.append(document)


def findings_from_file(
    path: Path, *, now: datetime, services: Path | None = None, cluster: str = "dump"
) -> list[Finding]:
    objects = load_objects(path)
    try:
        snapshot = snapshot_from_objects(objects, cluster=cluster, collected_at=now)
    except msgspec.ValidationError as exc:
        raise ConfigurationError("--from-file", f"{path}: unexpected object shape: {exc}") from exc
    return analyze(snapshot, now=now, catalog=load_catalog(services))


def run(args: argparse.Namespace) -> int:
    now = args.now or datetime.now(UTC)
    findings = findings_from_file(
        args.from_file, now=now, services=args.services, cluster=args.cluster
    )
    if args.format == "json":
        print_json({"findings": [f.to_json() for f in findings]})
    else:
        print_table(
            [
                {
                    "severity": f.severity.value,
                    "reason": f.reason,
                    "subject": str(f.subject),
                    "objects": len(f.objects),
                    "message": f.message[:120],
                }
                for f in findings
            ],
            ["severity", "reason", "subject", "objects", "message"],
        )
        print(f"{len(findings)} finding(s)", file=sys.stderr)
    if args.fail_on is not None:
        threshold = Severity(args.fail_on).rank
        if any(f.severity.rank >= threshold for f in findings):
            return EXIT_FINDINGS
    return 0
