"""``k8s-monitor sessions list|show|stats|prune|delete|export|import|verify``: operate on sessions.

Tables for people, ``--json`` for scripts. Commands that write (prune, delete, import, verify
--repair) take the session's lock, so they refuse to run against a session a daemon is using.
Logs go to stderr so that ``--json`` output stays parseable.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from k8s_monitor.cli.render import print_json, print_table
from k8s_monitor.config import load_settings
from k8s_monitor.errors import StorageError
from k8s_monitor.sessions import SessionManager

EXIT_FAILED = 1
PREVIEW_CHARS = 160


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sessions", help="inspect and maintain stored sessions")
    commands = parser.add_subparsers(dest="sessions_command", required=True, metavar="ACTION")

    listing = commands.add_parser("list", help="all sessions with size and state")
    _json_flag(listing)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="the conversation of one session")
    show.add_argument("session_id")
    show.add_argument("--last", type=int, default=0, help="only the last N messages")
    _json_flag(show)
    show.set_defaults(handler=_show)

    stats = commands.add_parser("stats", help="token and message statistics of one session")
    stats.add_argument("session_id")
    _json_flag(stats)
    stats.set_defaults(handler=_stats)

    prune = commands.add_parser("prune", help="prune one session now")
    prune.add_argument("session_id")
    prune.add_argument(
        "--smart", action="store_true", help="keep critical turns and compact the rest"
    )
    _json_flag(prune)
    prune.set_defaults(handler=_prune)

    delete = commands.add_parser("delete", help="delete one session and its backups")
    delete.add_argument("session_id")
    _json_flag(delete)
    delete.set_defaults(handler=_delete)

    export = commands.add_parser("export", help="write a session as plain JSON")
    export.add_argument("session_id")
    export.add_argument("--output", type=Path, help="file to write (default: stdout)")
    export.set_defaults(handler=_export)

    importing = commands.add_parser("import", help="store a session from an exported file")
    importing.add_argument("file", type=Path)
    importing.add_argument("--id", dest="session_id", help="store under this id instead")
    importing.add_argument("--replace", action="store_true", help="overwrite an existing session")
    _json_flag(importing)
    importing.set_defaults(handler=_import)

    verify = commands.add_parser("verify", help="check every session file and its backups")
    verify.add_argument("session_id", nargs="?", help="only this session")
    verify.add_argument(
        "--repair", action="store_true", help="quarantine bad files and restore backups"
    )
    _json_flag(verify)
    verify.set_defaults(handler=_verify)

    keygen = commands.add_parser(
        "keygen", help="print a new key for SESSION_ENCRYPTION_KEY (prepend it to rotate)"
    )
    keygen.set_defaults(handler=_keygen)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _manager() -> SessionManager:
    settings = load_settings()
    from k8s_monitor.logs import configure_logging

    configure_logging(settings.log_level.value, settings.log_format, stream=sys.stderr)
    return SessionManager.from_settings(settings)


def _fail(error: StorageError) -> int:
    print(f"k8s-monitor sessions: {type(error).__name__}: {error}", file=sys.stderr)
    return EXIT_FAILED


# --- read-only commands ----------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        rows = [_summary_row(manager, sid) for sid in manager.list_sessions()]
    except StorageError as exc:
        return _fail(exc)
    if args.json:
        print_json(rows)
    else:
        print_table(
            rows,
            ["session_id", "status", "messages", "tokens", "context_pct", "encrypted", "saved_at"],
        )
    return 0


def _summary_row(manager: SessionManager, session_id: str) -> dict[str, Any]:
    check = manager.verify_session(session_id)
    row: dict[str, Any] = {"session_id": session_id, "status": check["status"]}
    if check["status"] != "ok":
        return row
    stats = manager.get_session_stats(session_id) or {}
    row.update(
        messages=stats.get("message_count"),
        tokens=stats.get("estimated_tokens"),
        context_pct=stats.get("context_percentage"),
        encrypted=stats.get("encrypted"),
        saved_at=stats.get("saved_at"),
    )
    return row


def _show(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        document = manager.load_session(args.session_id)
    except StorageError as exc:
        return _fail(exc)
    if document is None:
        return _missing(args.session_id)
    history = document["conversation_history"]
    if args.last > 0:
        history = history[-args.last :]
    if args.json:
        print_json({**document, "conversation_history": history})
        return 0
    rows = [
        {
            "n": len(document["conversation_history"]) - len(history) + position,
            "role": message.get("role"),
            "cycle": (message.get("meta") or {}).get("cycle"),
            "kind": (message.get("meta") or {}).get("kind"),
            "content": _preview(message.get("content")),
        }
        for position, message in enumerate(history)
    ]
    print_table(rows, ["n", "role", "cycle", "kind", "content"])
    return 0


def _stats(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        stats = manager.get_session_stats(args.session_id)
    except StorageError as exc:
        return _fail(exc)
    if stats is None:
        return _missing(args.session_id)
    if args.json:
        print_json(stats)
    else:
        print_table([{"field": k, "value": v} for k, v in stats.items()], ["field", "value"])
    return 0


def _export(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        document = manager.export_session(args.session_id)
    except StorageError as exc:
        return _fail(exc)
    if document is None:
        return _missing(args.session_id)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if args.output is None:
        sys.stdout.write(data.decode())
        return 0
    # Exports are plaintext: keep them private to the operator.
    try:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        print(f"k8s-monitor sessions: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"exported {args.session_id} to {args.output}", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        ids = [args.session_id] if args.session_id else manager.list_sessions()
        results = [manager.verify_session(sid) for sid in ids]
        if args.repair:
            results = [_repair(manager, result) for result in results]
    except StorageError as exc:
        return _fail(exc)
    if args.json:
        print_json(results)
    else:
        print_table(results, ["session_id", "status", "valid_backups", "backups", "detail"])
    healthy = {"ok", "repaired", "missing"}
    return 0 if all(r["status"] in healthy for r in results) else EXIT_FAILED


def _repair(manager: SessionManager, result: dict[str, Any]) -> dict[str, Any]:
    if result["status"] != "corrupt":
        return result
    try:
        manager.load_session(result["session_id"])
    except StorageError as exc:
        return {**result, "status": "unrecoverable", "detail": str(exc)}
    return {**result, "status": "repaired"}


# --- commands that write -----------------------------------------------------------------------


def _prune(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        with manager.lock(args.session_id):
            document = manager.load_session(args.session_id)
            if document is None:
                return _missing(args.session_id)
            history = document["conversation_history"]
            before = manager.count_tokens(history)
            if args.smart:
                pruned = manager.prune_to_budget(history).history
            else:
                pruned = manager.prune_old_messages(history)
            manager.save_session(
                args.session_id, pruned, document["metadata"], state=document["state"]
            )
    except StorageError as exc:
        return _fail(exc)
    outcome = {
        "session_id": args.session_id,
        "messages_before": len(history),
        "messages_after": len(pruned),
        "tokens_before": before,
        "tokens_after": manager.count_tokens(pruned),
        "mode": "smart" if args.smart else "simple",
    }
    if args.json:
        print_json(outcome)
    else:
        print_table([outcome], list(outcome))
    return 0


def _delete(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        removed = manager.delete_session(args.session_id)
    except StorageError as exc:
        return _fail(exc)
    if args.json:
        print_json({"session_id": args.session_id, "deleted": removed})
    elif removed:
        print(f"deleted {args.session_id}")
    if not removed:
        return _missing(args.session_id)
    return 0


def _import(args: argparse.Namespace) -> int:
    manager = _manager()
    try:
        raw = args.file.read_bytes()
        document = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"k8s-monitor sessions: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not isinstance(document, dict):
        print(f"k8s-monitor sessions: {args.file} is not a session export", file=sys.stderr)
        return EXIT_FAILED
    document.pop("checksum", None)
    try:
        stored = manager.import_session(document, session_id=args.session_id, replace=args.replace)
    except StorageError as exc:
        return _fail(exc)
    if args.json:
        print_json({"session_id": stored, "imported": True})
    else:
        print(f"imported {args.file} as {stored}")
    return 0


def _missing(session_id: str) -> int:
    print(f"k8s-monitor sessions: no session {session_id!r}", file=sys.stderr)
    return EXIT_FAILED


def _preview(content: Any) -> str:
    from k8s_monitor.sessions.messages import content_text

    text = " ".join(content_text(content).split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


def _keygen(_: argparse.Namespace) -> int:
    # Needs no settings: it is how an operator makes the first key.
    from k8s_monitor.sessions.crypto import generate_key

    print(generate_key())
    return 0
