"""One cycle's read of the cluster: paged raw-JSON lists decoded into compact, redacted structs.

Every list is paged (``limit``/``continue``) and each page is decoded straight into the snapshot
structs, so memory follows the page size and what we keep, not the size of the API objects.
Lists run in parallel within ``COLLECT_CONCURRENCY``. A resource that fails (RBAC 403, timeout,
5xx, an expired continue token twice) becomes a :class:`CollectionGap` naming the fix, and the
cycle goes on; only an apiserver that answers nothing at all (``ClusterUnreachableError``) or
refuses our credentials (``ClusterAuthError``) fails the collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from k8s_monitor.cluster import resources as res
from k8s_monitor.cluster.carryover import Carryover, TakenPage
from k8s_monitor.cluster.compact import Interner
from k8s_monitor.cluster.logtails import LogTarget, log_query, select_targets, tail_from_response
from k8s_monitor.cluster.pages import PageDecodeError, item_decoder
from k8s_monitor.cluster.readahead import PageChain
from k8s_monitor.cluster.resources import Resource
from k8s_monitor.cluster.sanitize import prepare, sanitize
from k8s_monitor.cluster.snapshot import (
    ClusterSnapshot,
    CollectionGap,
    Event,
    LogTail,
    Namespace,
    Pod,
)
from k8s_monitor.cluster.transport import Response, Transport, TransportError
from k8s_monitor.errors import ClusterAuthError, ClusterUnreachableError
from k8s_monitor.redaction import Redactor
from k8s_monitor.retry import RetryPolicy

if TYPE_CHECKING:
    from k8s_monitor.config import Settings

log = structlog.get_logger(__name__)

_WARNING = "Warning"
# Statuses worth one more try of the same page: overload (429, priority and fairness) and
# transient apiserver or proxy failures. A second failure becomes a gap.
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
# One retry of a transient list error (429, 5xx) within the cycle; the next cycle tries again.
_LIST_RETRY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=2.0)
_LOG_CEILING_FACTOR = 32  # server-side limitBytes = this x LOG_TAIL_BYTES (bounds long lines)
_LOG_CEILING_MIN = 64 * 1024
_GAP_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """What and how to collect; ``from_settings`` maps the ``COLLECT_*``/``LOG_TAIL_*`` settings."""

    page_size: int = 500
    timeout_seconds: float = 30.0
    concurrency: int = 4
    namespace_include: tuple[str, ...] = ()
    namespace_exclude: tuple[str, ...] = ()
    label_selector: str | None = None
    event_window: timedelta = timedelta(minutes=60)
    log_tail_lines: int = 50
    log_tail_bytes: int = 8_192
    log_tail_max_containers: int = 10
    resources: tuple[Resource, ...] = res.RESOURCES
    # Lists of at least this many objects share repeated values (see ``compact``): below it the
    # snapshot is a few tens of MB either way and interning would double the decode CPU.
    compact_min_objects: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings) -> CollectOptions:
        return cls(
            page_size=settings.collect_page_size,
            timeout_seconds=settings.collect_timeout_seconds,
            concurrency=settings.collect_concurrency,
            namespace_include=tuple(settings.namespace_include),
            namespace_exclude=tuple(settings.namespace_exclude),
            label_selector=settings.label_selector or None,
            event_window=timedelta(minutes=settings.event_window_minutes),
            log_tail_lines=settings.log_tail_lines,
            log_tail_bytes=settings.log_tail_bytes,
            log_tail_max_containers=settings.log_tail_max_containers,
        )


EVENT_OVERLAP = timedelta(seconds=5)


@dataclass
class _Listed:
    """The outcome of listing one resource (in one namespace, or cluster-wide)."""

    resource: Resource
    items: list[Any] = field(default_factory=list)
    gap: CollectionGap | None = None
    answered: bool = False  # the apiserver sent an HTTP response at least once
    absent: bool = False  # an optional API (metrics) is not served here
    failure: str = ""  # why nothing answered, for ClusterUnreachableError
    compacted: bool = False  # repeated values are being shared (the list is big)
    fresh: list[Any] = field(default_factory=list)  # decoded this cycle, not yet compacted
    skipped: int = 0  # objects that did not decode and were left out


class Collector:
    """Reads the cluster into a :class:`ClusterSnapshot`. Thread-safe for one collect at a time."""

    def __init__(
        self,
        api_client: Any,
        options: CollectOptions,
        redactor: Redactor,
        *,
        cluster_name: str = "kubernetes",
    ) -> None:
        self._api_client = api_client
        self._options = options
        self._redactor = redactor
        self._cluster = cluster_name
        self._transport = Transport(api_client, options.timeout_seconds)
        self._carryover = Carryover()
        for resource in options.resources:  # a start-up cost, not the first cycle's
            prepare(resource.struct)
            item_decoder(resource.struct)
        self._pool = ThreadPoolExecutor(
            max_workers=options.concurrency, thread_name_prefix="collect"
        )
        # Page chains (read-ahead). A pool of its own, one chain per list worker: a chain only
        # waits on its own reader, so list workers waiting on chains can never deadlock it.
        self._prefetch = ThreadPoolExecutor(
            max_workers=options.concurrency, thread_name_prefix="collect-prefetch"
        )

    def close(self) -> None:
        """Stop the worker threads and close pooled connections."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._prefetch.shutdown(wait=True, cancel_futures=True)
        self._api_client.close()

    def collect(self, now: datetime, since: datetime | None = None) -> ClusterSnapshot:
        """Read everything once. ``since`` is the previous cycle's time (bounds Warning events).

        Raises :class:`ClusterUnreachableError` when no request got an answer and
        :class:`ClusterAuthError` when the apiserver refused our credentials (401).
        """
        started = time.monotonic()
        cutoff = _comparable(now) - self._options.event_window
        if since is not None and _comparable(since) - EVENT_OVERLAP > cutoff:
            # Event times are whole seconds and clocks drift: overlap the previous window a
            # little rather than drop an event stamped in the same second as the last read.
            # Events seen twice fold into one finding, so the overlap costs nothing downstream.
            cutoff = _comparable(since).replace(microsecond=0) - EVENT_OVERLAP
        self._probe()
        interner = Interner()
        listed = self._list_all(cutoff, interner)
        self._raise_if_blind(listed)
        buckets, gaps, absent = self._merge(listed)
        pods: list[Pod] = buckets.get("pods", [])
        tails, tail_gaps = self._log_tails(pods)
        gaps.extend(tail_gaps)
        for gap in gaps:
            # Details quote the apiserver's or a proxy's error text: untrusted, so redacted,
            # and only then cut, so the cut cannot split a token past recognition.
            gap.detail = self._redactor.clean(gap.detail)[:_GAP_DETAIL_CHARS]
            log.warning(
                "collection_gap",
                resource=gap.resource,
                api_group=gap.api_group,
                reason=gap.reason,
                status=gap.status,
                detail=gap.detail,
            )
        snapshot = ClusterSnapshot(
            cluster=self._cluster, collected_at=now, log_tails=tails, gaps=gaps, **buckets
        )
        for attribute in absent:
            setattr(snapshot, attribute, None)
        log.info(
            "cluster_collected",
            pods=len(snapshot.pods),
            nodes=len(snapshot.nodes),
            events=len(snapshot.events),
            log_tails=len(tails),
            gaps=len(gaps),
            duration_seconds=round(time.monotonic() - started, 3),
        )
        return snapshot

    # --- listing -------------------------------------------------------------------------

    def _probe(self) -> None:
        """One cheap request first, so a dead apiserver costs one timeout, not one per list."""
        try:
            response = self._transport.get("/version")
        except TransportError as exc:
            raise ClusterUnreachableError(f"apiserver did not answer: {exc}") from exc
        if response.status == 401:
            raise ClusterAuthError(f"apiserver rejected our credentials: {response.message}")

    def _list_all(self, event_cutoff: datetime, interner: Interner) -> list[_Listed]:
        futures: list[Future[_Listed]] = []
        for resource, namespace in self._tasks():
            futures.append(
                self._pool.submit(self._list, resource, namespace, event_cutoff, interner)
            )
        results: list[_Listed] = []
        auth_error: ClusterAuthError | None = None
        for future in futures:
            try:
                results.append(future.result())
            except ClusterAuthError as exc:
                auth_error = auth_error or exc
        if auth_error is not None:
            raise auth_error
        return results

    def _tasks(self) -> Iterator[tuple[Resource, str | None]]:
        include = self._options.namespace_include
        for resource in self._options.resources:
            if resource.namespaced and include:
                for namespace in include:
                    yield resource, namespace
            else:
                yield resource, None

    def _list(
        self, resource: Resource, namespace: str | None, cutoff: datetime, interner: Interner
    ) -> _Listed:
        """Page through one list; on a 410 (expired continue token) restart once.

        Pages are read one ahead (:class:`PageChain`), so the apiserver prepares the next page
        while this one decodes.
        """
        listed = _Listed(resource)
        keep = self._filter_for(resource, cutoff)
        path = resource.path(namespace)

        def fetch(token: str) -> Response:
            return self._transport.get(path, self._query(resource, token))

        restarted = retried = False
        token = ""
        list_pass = self._carryover.begin(resource, namespace)
        chain: PageChain | None = None
        try:
            while True:
                chain = chain or PageChain(self._prefetch, fetch, token)
                try:
                    response = chain.next()
                except TransportError as exc:
                    listed.failure = str(exc)
                    reason = "timeout" if exc.timeout else "error"
                    listed.gap = _gap(resource, reason, None, str(exc), namespace, self._options)
                    return listed
                listed.answered = True
                if response.status != 200:
                    chain = None  # a chain ends at its first error
                    if response.status == 410 and token and not restarted:
                        log.info("list_restarted_after_410", resource=resource.display)
                        restarted, token, listed.items, listed.fresh = True, "", [], []
                        continue
                    if response.status in _TRANSIENT and not retried:
                        retried = True
                        time.sleep(_LIST_RETRY.delay(0, retry_after=response.retry_after))
                        continue
                    self._fail(listed, response, namespace, restarted)
                    return listed
                retried = False
                try:
                    page = list_pass.take(response.body, resource.struct, keep, self._clean)
                except PageDecodeError as exc:
                    listed.gap = _gap(resource, "error", 200, str(exc), namespace, self._options)
                    return listed
                self._take(page, listed, interner)
                listed.skipped += page.skipped
                token = page.metadata.continue_
                if not token:
                    self._carryover.complete(resource, namespace, list_pass)
                    return listed
                if chain.following != token:  # the head did not tell the token; go by the body
                    chain.close()
                    chain = None
        finally:
            if chain is not None:
                chain.close()

    def _clean(self, item: Any) -> None:
        sanitize(item, self._redactor)

    def _take(self, page: TakenPage, listed: _Listed, interner: Interner) -> None:
        """Add the page's items; share repeated values of the new ones once the list is big.

        Interning costs about as much CPU as decoding and saves memory that only matters at
        scale, so it starts when the list is known (``remainingItemCount``) or seen to reach
        ``compact_min_objects``, and then catches up on the items decoded before. Carried-over
        items were compacted when they were new, if their list was big then.
        """
        listed.items.extend(page.items)
        listed.fresh.extend(page.fresh)
        if not listed.compacted and len(listed.items) + (
            page.metadata.remaining_item_count or 0
        ) >= (self._options.compact_min_objects):
            listed.compacted = True
        if listed.compacted:
            for item in listed.fresh:
                interner.compact(item)
            listed.fresh.clear()

    def _fail(
        self, listed: _Listed, response: Response, namespace: str | None, restarted: bool
    ) -> None:
        resource = listed.resource
        status = response.status
        if status == 401:
            raise ClusterAuthError(f"apiserver rejected our credentials: {response.message}")
        if status == 404 and resource.optional_api:
            listed.absent = True
            return
        if status == 410:
            reason = "expired"
            detail = "continue token expired twice; the list is incomplete"
            if not restarted:
                detail = "continue token expired"
        else:
            reason = {403: "forbidden", 404: "unavailable", 503: "unavailable"}.get(status, "error")
            detail = response.message
        listed.gap = _gap(resource, reason, status, detail, namespace, self._options)

    def _query(self, resource: Resource, token: str) -> list[tuple[str, str]]:
        query = [("limit", str(self._options.page_size))]
        if token:
            query.append(("continue", token))
        if resource is res.EVENTS:
            query.append(("fieldSelector", f"type={_WARNING}"))
        elif resource.field_selector:
            query.append(("fieldSelector", resource.field_selector))
        if resource.label_selector and self._options.label_selector:
            query.append(("labelSelector", self._options.label_selector))
        return query

    def _filter_for(self, resource: Resource, cutoff: datetime) -> Callable[[Any], bool]:
        exclude = frozenset(self._options.namespace_exclude)
        include = frozenset(self._options.namespace_include)
        if resource is res.NAMESPACES:
            return lambda ns: _namespace_wanted(ns, include, exclude)
        if resource is res.EVENTS:
            return lambda ev: ev.metadata.namespace not in exclude and _recent_warning(ev, cutoff)
        if resource is res.SCALE_UP_EVENTS:
            return lambda ev: ev.metadata.namespace not in exclude and _recent_scale_up(ev, cutoff)
        if resource.namespaced and exclude:
            return lambda item: item.metadata.namespace not in exclude
        return _keep_all

    def _raise_if_blind(self, listed: list[_Listed]) -> None:
        """No list succeeded: the cycle failed, whatever the apiserver said.

        An apiserver that answers only errors (500s, 403 on everything, every list timing out
        behind a live /version) hides the cluster as completely as one that is down. Treating
        that as a snapshot with gaps would make every open incident look resolved and would
        never let "monitor is blind" fire.
        """
        if listed and not any(item.answered for item in listed):
            reasons = sorted({item.failure for item in listed if item.failure})
            raise ClusterUnreachableError(
                "apiserver did not answer any request: " + ("; ".join(reasons[:3]) or "no reply")
            )
        required = [item for item in listed if not item.resource.optional_api]
        if required and all(item.gap is not None for item in required):
            reasons = sorted({f"{i.resource.display}: {i.gap.reason}" for i in required if i.gap})
            raise ClusterUnreachableError("no resource could be listed: " + "; ".join(reasons[:4]))

    def _merge(
        self, listed: list[_Listed]
    ) -> tuple[dict[str, list[Any]], list[CollectionGap], set[str]]:
        buckets: dict[str, list[Any]] = {}
        gaps: list[CollectionGap] = []
        absent: set[str] = set()
        for item in listed:
            attribute = item.resource.attribute
            if item.absent:
                absent.add(attribute)
                continue
            if item.skipped and item.gap is None:
                item.gap = _gap(
                    item.resource,
                    "error",
                    200,
                    f"{item.skipped} {item.resource.plural} did not decode and were left out",
                    None,
                    self._options,
                    fix="nothing to change in the cluster: these objects do not fit the fields "
                    "k8s-monitor reads; report it with the objects' kind and API version",
                )
            if item.gap is not None:
                gaps.append(item.gap)
                if item.resource.optional_api and not item.items:
                    absent.add(attribute)  # unknown is None, not "no usage"
                    continue
            buckets.setdefault(attribute, []).extend(item.items)
        return buckets, gaps, absent - set(buckets)

    # --- log tails -----------------------------------------------------------------------

    def _log_tails(self, pods: list[Pod]) -> tuple[list[LogTail], list[CollectionGap]]:
        options = self._options
        targets = select_targets(pods, options.log_tail_max_containers)
        if not targets or options.log_tail_lines == 0 or options.log_tail_bytes == 0:
            return [], []
        futures = [self._pool.submit(self._read_tail, target) for target in targets]
        tails: list[LogTail] = []
        forbidden: CollectionGap | None = None
        for future in futures:
            outcome = future.result()
            if isinstance(outcome, LogTail):
                tails.append(outcome)
            elif isinstance(outcome, CollectionGap) and forbidden is None:
                forbidden = outcome
        return tails, [forbidden] if forbidden else []

    def _read_tail(self, target: LogTarget) -> LogTail | CollectionGap | None:
        options = self._options
        ceiling = max(_LOG_CEILING_MIN, options.log_tail_bytes * _LOG_CEILING_FACTOR)
        query = log_query(target, lines=options.log_tail_lines, limit_bytes=ceiling)
        try:
            response = self._transport.get(
                target.path,
                query,
                accept="text/plain",
                max_bytes=options.log_tail_bytes,
            )
        except TransportError as exc:
            log.warning(
                "log_tail_failed", pod=target.pod, container=target.container, error=str(exc)
            )
            return None
        if response.status == 403:
            return CollectionGap(
                resource="pods/log",
                api_group="",
                reason="forbidden",
                status=403,
                detail=response.message,
                fix=f"add the rule {res.POD_LOGS_RULE} to the ClusterRole {res.CLUSTER_ROLE}",
            )
        if response.status != 200:
            # 400/404: the previous instance's log is gone (pod replaced, node rotated).
            log.info(
                "log_tail_unavailable",
                namespace=target.namespace,
                pod=target.pod,
                container=target.container,
                status=response.status,
            )
            return None
        return tail_from_response(
            target, response, max_bytes=options.log_tail_bytes, redactor=self._redactor
        )


def _keep_all(_item: Any) -> bool:
    return True


def _namespace_wanted(ns: Namespace, include: frozenset[str], exclude: frozenset[str]) -> bool:
    name = ns.metadata.name
    return (not include or name in include) and name not in exclude


def _recent_warning(event: Event, cutoff: datetime) -> bool:
    # The field selector already asks for Warnings; a server that ignores it is filtered here.
    if event.type != _WARNING:
        return False
    seen = event.seen_at
    return seen is None or _comparable(seen) >= _comparable(cutoff)


def _recent_scale_up(event: Event, cutoff: datetime) -> bool:
    # A server that ignores the field selector sends every event: keep only what was asked for.
    if event.reason != res.SCALE_UP_EVENTS.field_selector.partition("=")[2]:
        return False
    seen = event.seen_at
    return seen is None or _comparable(seen) >= _comparable(cutoff)


def _comparable(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so API times and a caller's ``now`` compare."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _gap(
    resource: Resource,
    reason: str,
    status: int | None,
    detail: str,
    namespace: str | None,
    options: CollectOptions,
    *,
    fix: str | None = None,
) -> CollectionGap:
    where = f" in namespace {namespace}" if namespace else ""
    fixes = {
        "forbidden": f"grant list on {resource.display}{where}: add the rule "
        f"{resource.rbac_rule} to the ClusterRole {res.CLUSTER_ROLE}",
        "timeout": f"the list took longer than COLLECT_TIMEOUT_SECONDS={options.timeout_seconds:g};"
        " raise it or lower COLLECT_PAGE_SIZE, and check apiserver load",
        "expired": "the apiserver compacted past our continue token; raise COLLECT_PAGE_SIZE "
        "so the list finishes in fewer pages",
        "unavailable": f"the cluster does not serve {resource.api_prefix}/{resource.plural} "
        "(API disabled or its backing service is down)",
        "error": "the apiserver failed this list; it is retried next cycle",
    }
    return CollectionGap(
        resource=resource.plural,
        api_group=resource.group,
        reason=reason,
        status=status,
        detail=detail + where,
        fix=fix if fix is not None else fixes[reason],
    )
