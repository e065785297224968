"""Assembling the monitor: every long-lived part built once from ``Settings``.

Files named by settings (services catalog, encryption keys) are read first, so a bad one stops
the program before it touches the cluster or the session. The session lock comes next: a second
daemon on the same session is refused before it can write anything.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from k8s_monitor.analysis.ledger import LedgerStore
from k8s_monitor.analysis.services import ServiceCatalog, load_catalog
from k8s_monitor.atomicfile import remove_stale_temps
from k8s_monitor.cluster.collect import CollectOptions, Collector
from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.lookup import ClusterLookup
from k8s_monitor.config import Settings
from k8s_monitor.converse import build_conversation
from k8s_monitor.cycle.runner import CycleRunner
from k8s_monitor.cycle.stages import CycleStages, SnapshotSource
from k8s_monitor.investigate.reads import LookupReads
from k8s_monitor.investigate.tools import Toolbox
from k8s_monitor.metrics import Metrics
from k8s_monitor.notify import Heartbeat, build_heartbeat, build_notifier
from k8s_monitor.notify.notifier import PENDING_DIR
from k8s_monitor.redaction import GUARD, Redactor
from k8s_monitor.sessions import SessionManager

log = structlog.get_logger(__name__)


@dataclass
class Monitor:
    settings: Settings
    runner: CycleRunner
    metrics: Metrics
    sessions: SessionManager
    _resources: ExitStack = field(default_factory=ExitStack)
    heartbeat: Heartbeat | None = None

    def close(self) -> None:
        self._resources.close()


def ledger_path(settings: Settings) -> Path:
    """The incident ledger, one file per session id, in both modes.

    It lives in its own folder so no session id can ever name it as a session file.
    """
    return settings.session_dir / "ledgers" / f"{settings.session_id}.json"


def assemble(
    settings: Settings,
    *,
    source: SnapshotSource | None = None,
    catalog: ServiceCatalog | None = None,
    toolbox: Toolbox | None = None,
) -> Monitor:
    """Build the monitor; ``source`` replaces the Kubernetes collector (tests, replays).

    The model's tools read the cluster the collector reads: with a replaced ``source`` they
    read nothing unless a ``toolbox`` is given.
    """
    if catalog is None:
        catalog = load_catalog(settings.services_file)
    redactor = Redactor.from_settings(settings)
    metrics = Metrics()
    metrics.cycle_interval.set(settings.interval_seconds)
    GUARD.use(redactor)
    GUARD.on_hit(metrics.observe_guard_hit)
    sessions = SessionManager.from_settings(settings, on_event=metrics.observe_session_event)
    resources = ExitStack()
    try:
        resources.enter_context(sessions.lock(settings.session_id))
        _remove_stale_temps(settings)
        evidence_reads: LookupReads | None = None
        if source is None:
            collector = Collector(
                load_api_client(settings),
                CollectOptions.from_settings(settings),
                redactor,
                cluster_name=settings.cluster_name,
            )
            resources.callback(collector.close)
            source = collector
            # One lookup serves the evidence stage (always) and the model's tools (if enabled).
            lookup = ClusterLookup.from_settings(load_api_client(settings), settings, redactor)
            resources.callback(lookup.close)
            evidence_reads = LookupReads(lookup)
            if toolbox is None and settings.investigate:
                toolbox = Toolbox(lookup, redactor.redact)
        conversation = build_conversation(settings, sessions, toolbox=toolbox)
        resources.callback(conversation.close)
        heartbeat = build_heartbeat(
            settings, on_error=lambda kind: metrics.observe_error("heartbeat", kind)
        )
        if heartbeat is not None:
            resources.callback(heartbeat.close)
        stages = CycleStages(
            settings=settings,
            source=source,
            catalog=catalog,
            ledger_store=LedgerStore(ledger_path(settings)),
            conversation=conversation,
            notifier=build_notifier(settings),
            metrics=metrics,
            redactor=redactor,
            heartbeat=heartbeat,
            evidence_reads=evidence_reads,
        )
    except BaseException:
        resources.close()
        raise
    return Monitor(settings, CycleRunner(stages), metrics, sessions, resources, heartbeat)


def _remove_stale_temps(settings: Settings) -> None:
    """Temp files of writers killed mid-write; safe now that this process holds the lock."""
    ledger = ledger_path(settings)
    removed = remove_stale_temps(ledger.parent, ledger.name)
    for directory in (settings.spool_dir, settings.spool_dir / PENDING_DIR):
        removed += remove_stale_temps(directory)
    if removed:
        log.info("stale_temp_files_removed", count=removed)
