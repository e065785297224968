"""Decoding list pages: raw JSON bytes straight into the compact snapshot structs.

Only ``items`` and the paging metadata are decoded; every field the structs do not name is
skipped by the decoder without building objects, which is what makes a page of 500 pods cost
milliseconds instead of the official models' seconds.
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import msgspec
import orjson
from msgspec import Struct, field

from k8s_monitor.cluster.snapshot import without_nulls
from k8s_monitor.errors import ClusterError

T = TypeVar("T")


class ListMeta(Struct, rename="camel", kw_only=True):
    resource_version: str = ""
    continue_: str = field(default="", name="continue")
    remaining_item_count: int | None = None


class ListPage(Struct, Generic[T], kw_only=True):
    """One page of a ``*List`` response: only ``items`` and the paging metadata are decoded."""

    items: list[T] | None = None
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    skipped: int = 0  # objects left out by the lenient decode (never in the API's JSON)


class ListHead(Struct, kw_only=True):
    """Only a page's ``metadata``: decoding it skips the items, about a fifth of a full decode."""

    metadata: ListMeta = msgspec.field(default_factory=ListMeta)


class PageDecodeError(ClusterError):
    """A page did not decode even after folding nulls away."""


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_HEAD_DECODER = msgspec.json.Decoder(ListHead)


_CONTINUE = re.compile(rb'"continue"\s*:\s*"([A-Za-z0-9+/=_.\-]*)"')


def peek_continue(data: bytes) -> str | None:
    """The page's continue token without decoding its items; None when it cannot be told.

    The apiserver writes ``metadata`` before ``items``, so the token sits in the first few
    hundred bytes; reading it there lets the next page be requested before this one decodes.
    A body in another order is decoded for its ``metadata`` alone (about a fifth of a page).
    """
    head = data[: data.find(b'"items"')] if b'"items"' in data[:4096] else b""
    if b'"metadata"' in head:
        match = _CONTINUE.search(head)
        return match.group(1).decode("ascii") if match else ""
    try:
        return _HEAD_DECODER.decode(data).metadata.continue_
    except msgspec.MsgspecError:
        return None


def decode_page(data: bytes, struct: type[Any]) -> ListPage[Any]:
    """Decode one ``*List`` page into ``ListPage[struct]``, skipping every unknown field.

    Strict decoding is the fast path. A page it rejects (``null`` where a struct expects a
    value, as some clients write, or one odd object) is decoded again leniently, object by
    object: an object that still does not fit is left out and counted in ``skipped``, so one
    bad object cannot hide the other 499.
    """
    decoder = _DECODERS.get(struct)
    if decoder is None:
        decoder = _DECODERS.setdefault(struct, msgspec.json.Decoder(ListPage[struct]))  # type: ignore[valid-type]
    try:
        fast: ListPage[Any] = decoder.decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        repaired = without_lone_surrogates(data)
        if repaired is data:
            raise PageDecodeError(f"not JSON: {exc}") from exc
        return decode_page(repaired, struct)
    else:
        return fast
    return _decode_leniently(data, struct)


# A \uD800-\uDFFF escape that is not half of a pair. JSON allows it, UTF-8 cannot carry it, and
# the decoders reject the whole page for it; one odd string must not hide every pod.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\)(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def without_lone_surrogates(data: bytes) -> bytes:
    """``data`` with lone surrogate escapes replaced by U+FFFD; ``data`` itself if none."""
    if b"\\u" not in data:
        return data
    repaired, count = _LONE_SURROGATE.subn(rb"\\ufffd", data)
    return repaired if count else data


_ITEM_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def item_decoder(struct: type[Any]) -> msgspec.json.Decoder[Any]:
    """The decoder of one list item of ``struct`` (built once; building one takes milliseconds)."""
    decoder = _ITEM_DECODERS.get(struct)
    if decoder is None:
        decoder = _ITEM_DECODERS.setdefault(struct, msgspec.json.Decoder(struct))
    return decoder


def decode_item(data: bytes | msgspec.Raw, struct: type[Any]) -> Any | None:
    """One list item's JSON into ``struct``, as leniently as :func:`decode_page` treats it; None
    when it does not fit even then."""
    decoder = item_decoder(struct)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError:
        return None
    try:
        return _convert_loosely(orjson.loads(bytes(data)), struct)
    except (orjson.JSONDecodeError, msgspec.ValidationError):
        return None


def _convert_loosely(obj: Any, struct: type[Any]) -> Any:
    """An already parsed object into ``struct``, nulls folded away and strings coerced."""
    return msgspec.convert(without_nulls(obj), struct, strict=False)


def _decode_leniently(data: bytes, struct: type[Any]) -> ListPage[Any]:
    try:
        loose = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        repaired = without_lone_surrogates(data)
        if repaired is data:
            raise PageDecodeError(f"not JSON: {exc}") from exc
        loose = orjson.loads(repaired)
    if not isinstance(loose, dict) or not isinstance(loose.get("items") or [], list):
        raise PageDecodeError("not a list: no items array")
    try:
        metadata = msgspec.convert(without_nulls(loose.get("metadata") or {}), ListMeta)
    except msgspec.ValidationError as exc:
        raise PageDecodeError(f"unexpected list metadata: {exc}") from exc
    items: list[Any] = []
    skipped = 0
    for raw in loose.get("items") or ():
        try:
            items.append(_convert_loosely(raw, struct))
        except msgspec.ValidationError:
            skipped += 1
    return ListPage(items=items, metadata=metadata, skipped=skipped)
