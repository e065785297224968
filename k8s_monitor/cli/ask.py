"""``k8s-monitor ask "why is checkout-api restarting?"``: one question, answered with evidence.

Uses the same read-only tools and limits as the cycle's investigations, the session's memory
(persistent mode) or the ledger (stateless mode). It reads the session and the ledger without
taking the daemon's lock and never writes them, so it is safe to run with ``kubectl exec``
beside the running daemon. Without a model (``LLM_PROVIDER=offline`` or ``--no-model``) it
prints what the deterministic analysis knows about the matching incidents.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from k8s_monitor.config import Settings, load_settings
from k8s_monitor.errors import ModelError, StorageError
from k8s_monitor.redaction import GUARD, Redactor

SINK = "ask"  # the guard's name for what this command prints

EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask one question about the cluster (read-only; never changes the session)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("question", help='e.g. "why is checkout-api restarting?"')
    parser.add_argument(
        "--no-model", action="store_true", help="print the deterministic evidence only"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    _quiet_logs()
    from k8s_monitor.analysis.ledger import LedgerStore
    from k8s_monitor.converse.ask import deterministic_answer
    from k8s_monitor.llm.providers import build_provider
    from k8s_monitor.wiring import ledger_path

    now = datetime.now(UTC)
    redactor = Redactor.from_settings(settings)
    GUARD.use(redactor)
    try:
        ledger = LedgerStore(ledger_path(settings)).peek()
    except StorageError as exc:
        print(f"k8s-monitor: cannot read the incident ledger: {exc}", file=sys.stderr)
        return EXIT_FAILED
    provider = None if args.no_model else build_provider(settings)
    if provider is None:
        print(GUARD.text(SINK, deterministic_answer(args.question, ledger, now)))
        return 0
    try:
        history = _memory(settings)
        answer = _ask_model(settings, redactor, provider, args.question, ledger, history, now)
    except (ModelError, StorageError) as exc:
        why = GUARD.text(SINK, f"{type(exc).__name__}: {exc}")
        print(f"k8s-monitor: the model could not answer ({why});"
              " the deterministic analysis follows.", file=sys.stderr)  # fmt: skip
        print(GUARD.text(SINK, deterministic_answer(args.question, ledger, now)))
        return EXIT_FAILED
    finally:
        provider.close()
    print(GUARD.text(SINK, answer))
    return 0


def _quiet_logs() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _memory(settings: Settings) -> list[dict[str, Any]]:
    """The persistent session's history, read without the lock; empty in stateless mode."""
    if not settings.enable_long_context:
        return []
    from k8s_monitor.sessions import SessionManager

    document = SessionManager.from_settings(settings).read_session(settings.session_id)
    if document is None:
        return []
    history: list[dict[str, Any]] = document.get("conversation_history") or []
    return history


def _ask_model(
    settings: Settings,
    redactor: Redactor,
    provider: Any,
    question: str,
    ledger: Any,
    history: list[dict[str, Any]],
    now: datetime,
) -> str:
    from k8s_monitor.cluster.kubeconfig import load_api_client
    from k8s_monitor.cluster.lookup import ClusterLookup
    from k8s_monitor.converse.ask import answer_question
    from k8s_monitor.converse.investigation import Investigator, Limits
    from k8s_monitor.investigate.tools import Toolbox
    from k8s_monitor.llm.accounting import load_price_table

    lookup = ClusterLookup.from_settings(load_api_client(settings), settings, redactor)
    try:
        investigator = Investigator(
            Toolbox(lookup, redactor.redact), Limits.from_settings(settings)
        )
        answer = answer_question(
            question,
            provider=provider,
            investigator=investigator,
            prices=load_price_table(),
            redact=redactor.redact,
            max_tokens=settings.llm_max_output_tokens,
            ledger=ledger,
            history=history,
            now=now,
        )
    finally:
        lookup.close()
    stats = answer.stats
    footer = (
        f"\n-- {stats.tool_calls} tool call(s), {stats.tool_errors} failed"
        + (f", stopped at the {stats.stopped} limit" if stats.stopped else "")
        + f"; {answer.usage.billed_equivalent_tokens:.0f} billed-equivalent tokens ({answer.model})"
    )
    return answer.text + footer
