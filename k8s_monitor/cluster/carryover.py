"""Objects carried over between collections: what the apiserver sends unchanged is taken, not
decoded, redacted and compacted again.

Most objects of a cluster do not change between two cycles. Each list keeps the objects it took
last time, keyed by a 128-bit hash of their JSON as the apiserver sent it; an object whose
bytes hash the same is last cycle's object, already decoded, cleaned at the redaction boundary
and compacted. So each version of an object passes the boundary once, and a quiet cluster
costs a scan and a hash per object instead of a decode and a walk.

The key is the content, not ``uid`` and ``resourceVersion``: every byte the decoder reads is
in it, so nothing that changed can be mistaken for what did not, whatever the server does with
resource versions (metrics objects have none). The hash is XXH3-128, a sixth of SHA-1's cost,
seeded at random per process so that nobody outside can craft two objects that collide.

Sharing one object between two snapshots is invisible because a snapshot is read-only data
(see ``compact``). A list that fails keeps the table of its last complete pass; objects a list
no longer returns are dropped with the table it replaces, so memory stays one collection's
objects.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import xxhash

from k8s_monitor.cluster.pages import ListMeta, ListPage, decode_item, decode_page
from k8s_monitor.cluster.resources import Resource

_RAW_PAGE = msgspec.json.Decoder(ListPage[msgspec.Raw])
_SEED = secrets.randbits(64)


@dataclass(slots=True)
class TakenPage:
    """One page's wanted objects, clean; ``fresh`` are those decoded this time (the rest were
    carried over from the previous collection)."""

    items: list[Any]
    fresh: list[Any]
    metadata: ListMeta
    skipped: int = 0


@dataclass(slots=True)
class ListPass:
    """One pass over one list: takes its pages, then hands its table to the next pass."""

    previous: dict[bytes, Any]
    current: dict[bytes, Any] = field(default_factory=dict)

    def take(
        self,
        data: bytes,
        struct: type[Any],
        keep: Callable[[Any], bool],
        clean: Callable[[Any], None],
    ) -> TakenPage:
        """The objects of page ``data`` that ``keep`` wants; each new one passed to ``clean``.

        A page whose items do not even split as JSON (a lone surrogate escape, a body that is
        not a list) goes the whole-page way of :func:`decode_page`, with its repairs, and
        nothing of it is carried over.
        """
        try:
            raw_page = _RAW_PAGE.decode(data)
        except msgspec.MsgspecError:
            return self._take_decoded(decode_page(data, struct), keep, clean)
        taken = TakenPage([], [], raw_page.metadata)
        for raw in raw_page.items or ():
            key = xxhash.xxh3_128_digest(raw, _SEED)
            item = self.previous.get(key)
            if item is None:
                item = decode_item(raw, struct)
                if item is None:
                    taken.skipped += 1
                    continue
                if not keep(item):
                    continue
                clean(item)
                taken.fresh.append(item)
            elif not keep(item):  # a time window (Warning events) may drop what it kept before
                continue
            self.current[key] = item
            taken.items.append(item)
        return taken

    def _take_decoded(
        self, page: ListPage[Any], keep: Callable[[Any], bool], clean: Callable[[Any], None]
    ) -> TakenPage:
        items = [item for item in page.items or () if keep(item)]
        for item in items:
            clean(item)
        return TakenPage(items, list(items), page.metadata, page.skipped)


class Carryover:
    """The last complete pass of every list (a resource, in one namespace or cluster-wide)."""

    def __init__(self) -> None:
        self._tables: dict[tuple[Resource, str | None], dict[bytes, Any]] = {}

    def begin(self, resource: Resource, namespace: str | None) -> ListPass:
        return ListPass(self._tables.get((resource, namespace), {}))

    def complete(self, resource: Resource, namespace: str | None, done: ListPass) -> None:
        """``done`` read its list to the end: its objects are what the next pass can reuse."""
        self._tables[(resource, namespace)] = done.current
