"""``k8s-monitor analyze --from-file DUMP``: the deterministic analysis on a kubectl dump.

Reads what ``kubectl get ... -o json`` or ``-o yaml`` prints (a List, a single object, or YAML
documents), builds a snapshot and prints the findings. Useful for post-mortems: ``--now`` analyses
the dump as of the moment it was captured. Without ``--now`` the dump is analysed as of
``DUMP_MARGIN`` after the newest timestamp it contains (a proxy for its capture time), or the
current time if that is earlier, so an old dump is judged as it was, not as history.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson
import yaml

from k8s_monitor.analysis.causes import group_by_root_cause
from k8s_monitor.analysis.findings import Finding, Severity
from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.analysis.services import load_catalog
from k8s_monitor.cli.render import print_json, print_table
from k8s_monitor.cluster.pages import without_lone_surrogates
from k8s_monitor.cluster.sanitize import sanitize_snapshot
from k8s_monitor.cluster.snapshot import KINDS, decode_object, snapshot_from_objects
from k8s_monitor.cycle.observe import explain
from k8s_monitor.errors import ConfigurationError
from k8s_monitor.redaction import Redactor

EXIT_FINDINGS = 1
# Longer than every rule's grace window (at most 15 minutes), shorter than the recency windows.
DUMP_MARGIN = timedelta(minutes=30)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


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


# kubectl output nests a few levels (List > items > object > spec > ...); anything much deeper
# is not a dump, and the walks below would run out of stack on it.
MAX_DEPTH = 64


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: kubectl never writes them, and an alias bomb expands to billions."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a dump", mark
            )
        return super().compose_node(parent, index)


def load_objects(path: Path) -> list[dict[str, Any]]:
    """Every API object in a JSON or YAML dump, Lists flattened.

    Raises :class:`ConfigurationError` (one line, exit 2) for a file that holds no object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("--from-file", f"{path}: cannot be read: {exc}") from exc
    documents = _documents(path, text)
    if _too_deep(documents):
        raise ConfigurationError("--from-file", f"{path}: nested deeper than {MAX_DEPTH} levels")
    objects: list[dict[str, Any]] = []
    for document in documents:
        _flatten(document, objects)
    if not objects:
        raise ConfigurationError(
            "--from-file",
            f"{path}: no Kubernetes objects (expected the output of kubectl get ... -o json)",
        )
    return objects


def _documents(path: Path, text: str) -> list[Any]:
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError as exc:
        json_error = exc
    data = text.encode("utf-8", "surrogatepass")
    repaired = without_lone_surrogates(data)
    if repaired is not data:  # one odd string must not make the whole dump unreadable
        try:
            return [orjson.loads(repaired)]
        except orjson.JSONDecodeError as exc:
            json_error = exc
    if text.lstrip().startswith(("{", "[")):
        # JSON that orjson refused (a lone surrogate, nesting past its limit): YAML would only
        # misread it, slowly.
        raise ConfigurationError("--from-file", f"{path}: not valid JSON: {json_error}")
    try:
        return list(yaml.load_all(text, Loader=_NoAliasLoader))
    except yaml.YAMLError as exc:
        reason = str(exc).replace("\n", " ")
        raise ConfigurationError("--from-file", f"{path}: neither JSON nor YAML: {reason}") from exc
    except RecursionError as exc:
        raise ConfigurationError("--from-file", f"{path}: nested too deeply") from exc


def _too_deep(documents: list[Any]) -> bool:
    """Nesting beyond ``MAX_DEPTH``, found without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1) for document in documents]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


def _flatten(document: Any, into: list[dict[str, Any]]) -> None:
    if isinstance(document, list):
        for item in document:
            _flatten(item, into)
        return
    if not isinstance(document, dict):
        return
    kind = str(document.get("kind", "List"))
    items = document.get("items")
    if isinstance(items, list) and kind.endswith("List"):
        # A raw API list ("PodList") leaves "kind" off its items; kubectl's "List" keeps it.
        item_kind = kind.removesuffix("List")
        for item in items:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {**item, "kind": item_kind}
            _flatten(item, into)
    elif document.get("kind"):
        into.append(document)


def _timestamps(value: Any) -> Iterator[datetime]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _timestamps(item)
    elif isinstance(value, list):
        for item in value:
            yield from _timestamps(item)
    elif isinstance(value, str) and _TIMESTAMP.match(value):
        yield datetime.fromisoformat(value.replace("Z", "+00:00"))


def dump_now(objects: list[dict[str, Any]], wall_clock: datetime) -> datetime:
    """The moment to judge a dump at: its newest timestamp plus a margin, capped at the clock."""
    newest = max(_timestamps(objects), default=None)
    if newest is None:
        return wall_clock
    return min(newest + DUMP_MARGIN, wall_clock)


def findings_from_file(
    path: Path, *, now: datetime | None = None, services: Path | None = None, cluster: str = "dump"
) -> list[Finding]:
    objects = load_objects(path)
    if now is None:
        now = dump_now(objects, datetime.now(UTC))
    usable = [obj for obj in objects if _decodes(obj)]
    snapshot = snapshot_from_objects(usable, cluster=cluster, collected_at=now)
    redactor = Redactor()
    sanitize_snapshot(snapshot, redactor)  # a dump is untrusted input like an API page
    # A dump has no cluster behind it: evidence from what it holds, no extra reads.
    explained = explain(
        snapshot,
        Ledger(),
        now=now,
        catalog=load_catalog(services),
        reads=None,
        redact=redactor.redact,
    )
    return explained.findings


def _decodes(obj: dict[str, Any]) -> bool:
    """Hand-edited dumps break types (``cpu: 1``); skip such an object, keep the rest."""
    kind = str(obj.get("kind", ""))
    if kind not in KINDS:
        return False
    try:
        decode_object(kind, obj)
    except msgspec.ValidationError as exc:
        metadata = obj.get("metadata")
        name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
        print(f"k8s-monitor: skipped {kind}/{name!s:.100}: {exc}", file=sys.stderr)
        return False
    return True


def run(args: argparse.Namespace) -> int:
    findings = findings_from_file(
        args.from_file, now=args.now, services=args.services, cluster=args.cluster
    )
    incidents = [group.entry() for group in group_by_root_cause(findings)]
    if args.format == "json":
        records = {"findings": [f.to_json() for f in findings], "incidents": incidents}
        print_json(msgspec.to_builtins(records))
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
        print(f"{len(findings)} finding(s), {len(incidents)} root cause(s)", file=sys.stderr)
        for incident in incidents:
            if len(incident.findings) > 1:
                root = incident.root_cause
                print(
                    f"root cause {root.reason} {root.kind}/{root.namespace}/"
                    f"{root.name}: explains {len(incident.findings)} finding(s)",
                    file=sys.stderr,
                )
    if args.fail_on is not None:
        threshold = Severity(args.fail_on).rank
        if any(f.severity.rank >= threshold for f in findings):
            return EXIT_FINDINGS
    return 0
