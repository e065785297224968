"""The redaction boundary: every string decoded from the API is cleaned once, before any stage.

Cleaning a string removes terminal controls and escapes (newline and tab stay), replaces lone
surrogates and redacts secrets (:meth:`Redactor.clean`). Which strings are cleaned is not a
list someone keeps up to date: the walk is planned from the snapshot structs' own field table
(``msgspec.inspect``), so a field added to a struct is cleaned from its first decode. Only
identity fields are exempt (:data:`IDENTITY_FIELDS`), and only while their value has the
Kubernetes syntax of that field; a value that does not is cleaned like free text.

Objects are freshly decoded and owned by the collector, so they are cleaned in place, which
avoids copying every pod of a large cluster. Env var values have no field in the structs and
are never decoded at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from msgspec import Struct, inspect

from k8s_monitor.cluster.snapshot import KINDS, ClusterSnapshot, LogTail
from k8s_monitor.redaction import Redactor

# kubectl apply stores the whole manifest here, env values included: never keep it.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
_UID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
_RESOURCE_VERSION = re.compile(r"[0-9]{1,20}")
# registry[:port]/path[:tag][@digest], lower-case path as the distribution spec requires.
_IMAGE = re.compile(
    r"(?:[a-z0-9.-]+(?::[0-9]{1,5})?/)?[a-z0-9._/-]{1,255}"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
# A label or annotation key: an optional DNS prefix and a name of at most 63 characters.
_MAP_KEY = re.compile(
    r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)

# Struct attribute -> the syntax that exempts its value from cleaning.
IDENTITY_FIELDS: dict[str, re.Pattern[str]] = {
    "name": _DNS_SUBDOMAIN,
    "namespace": _DNS_SUBDOMAIN,
    "node_name": _DNS_SUBDOMAIN,
    "volume_name": _DNS_SUBDOMAIN,
    "uid": _UID,
    "kind": _KIND,
    "resource_version": _RESOURCE_VERSION,
    "image": _IMAGE,
}
# String sequences that are command lines: ``--password VALUE`` is hidden across two items.
ARGV_FIELDS = frozenset({"command", "args"})

_Clean = Callable[[Any, Redactor], Any]
_Plan = tuple[tuple[str, _Clean], ...]
_PLANS: dict[type[Any], _Plan] = {}


def sanitize(item: Any, redactor: Redactor) -> None:
    """Clean every string of ``item`` (any snapshot struct) in place."""
    _walk(item, redactor)


def sanitize_snapshot(snapshot: ClusterSnapshot, redactor: Redactor) -> None:
    """Clean every object of a snapshot built outside the collector (a dump, a replay)."""
    for name in _SNAPSHOT_LISTS:
        for item in getattr(snapshot, name) or ():
            _walk(item, redactor)
    snapshot.log_tails = [
        LogTail(
            namespace=redactor.clean(tail.namespace),
            pod=redactor.clean(tail.pod),
            container=redactor.clean(tail.container),
            previous=tail.previous,
            text=redactor.clean(tail.text),
            truncated=tail.truncated,
        )
        for tail in snapshot.log_tails
    ]
    for gap in snapshot.gaps:
        gap.detail = redactor.clean(gap.detail)


def string_fields(struct_type: type[Any]) -> Iterator[tuple[str, ...]]:
    """Wire paths (camelCase names) of every string a struct decodes, ``*`` for a sequence item
    and ``{}`` for a map value: the placements a secret corpus must cover."""
    yield from _paths(inspect.type_info(struct_type), ())


# --- the walk ---------------------------------------------------------------------------------


def _walk(item: Any, redactor: Redactor) -> None:
    plan = _PLANS.get(type(item))
    if plan is None:
        plan = _PLANS.setdefault(type(item), _plan_for(type(item)))
    for name, clean in plan:
        value = getattr(item, name)
        if value is None:
            continue
        cleaned = clean(value, redactor)
        if cleaned is not value:
            setattr(item, name, cleaned)


def _plan_for(struct_type: type[Any]) -> _Plan:
    info = inspect.type_info(struct_type)
    assert isinstance(info, inspect.StructType)
    plan: list[tuple[str, _Clean]] = []
    for field in info.fields:
        clean = _cleaner(field.name, field.type)
        if clean is not None:
            plan.append((field.name, clean))
    return tuple(plan)


def _cleaner(name: str, kind: inspect.Type) -> _Clean | None:
    """How to clean one field, from its declared type; None for types that hold no text."""
    if isinstance(kind, inspect.UnionType):
        parts = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
        if len(parts) == 1:
            return _cleaner(name, parts[0])
        return _clean_any if any(_holds_text(t) for t in parts) else None
    if isinstance(kind, inspect.StrType):
        syntax = IDENTITY_FIELDS.get(name)
        return _clean_str if syntax is None else _identity(syntax)
    if isinstance(kind, inspect.StructType):
        return _clean_struct
    if isinstance(kind, inspect.VarTupleType | inspect.ListType):
        if isinstance(kind.item_type, inspect.StrType):
            return _clean_argv if name in ARGV_FIELDS else _clean_strs
        if isinstance(kind.item_type, inspect.StructType):
            return _clean_structs
        return _clean_any if _holds_text(kind.item_type) else None
    if isinstance(kind, inspect.DictType):
        if isinstance(kind.value_type, inspect.StrType):
            return _clean_annotations if name == "annotations" else _clean_map
        return _clean_any
    if isinstance(kind, inspect.AnyType):
        return _clean_any
    return None


def _holds_text(kind: inspect.Type) -> bool:
    return not isinstance(
        kind,
        inspect.IntType
        | inspect.FloatType
        | inspect.BoolType
        | inspect.NoneType
        | inspect.DateTimeType,
    )


def _identity(syntax: re.Pattern[str]) -> _Clean:
    match = syntax.fullmatch

    def clean(value: str, redactor: Redactor) -> str:
        return value if match(value) else redactor.clean(value)

    return clean


def _clean_str(value: str, redactor: Redactor) -> str:
    return redactor.clean(value)


def _clean_strs(values: tuple[str, ...], redactor: Redactor) -> tuple[str, ...]:
    return tuple(redactor.clean(value) for value in values)


def _clean_argv(values: tuple[str, ...], redactor: Redactor) -> tuple[str, ...]:
    return tuple(redactor.clean_argv(values))


def _clean_struct(value: Struct, redactor: Redactor) -> Struct:
    _walk(value, redactor)
    return value


def _clean_structs(values: tuple[Struct, ...], redactor: Redactor) -> tuple[Struct, ...]:
    for value in values:
        _walk(value, redactor)
    return values


def _clean_map(values: dict[str, str], redactor: Redactor) -> dict[str, str]:
    if not values:
        return values
    return redactor.clean_mapping({_map_key(k, redactor): v for k, v in values.items()})


def _clean_annotations(values: dict[str, str], redactor: Redactor) -> dict[str, str]:
    if not values:
        return values
    kept = {_map_key(k, redactor): v for k, v in values.items() if k not in DROPPED_ANNOTATIONS}
    return redactor.clean_mapping(kept)


def _map_key(key: str, redactor: Redactor) -> str:
    return key if _MAP_KEY.fullmatch(key) else redactor.clean(key)


def _clean_any(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, Struct):
        _walk(value, redactor)
        return value
    if isinstance(value, str):
        return redactor.clean(value)
    if isinstance(value, dict):
        cleaned = {_map_key(str(k), redactor): _clean_any(v, redactor) for k, v in value.items()}
        return redactor.redact_obj(cleaned)  # values under secret-naming keys hidden whole
    if isinstance(value, list | tuple):
        return type(value)(_clean_any(item, redactor) for item in value)
    return value


# --- the field table --------------------------------------------------------------------------

_SNAPSHOT_LISTS = tuple(attribute for _, attribute in KINDS.values())


def _paths(kind: inspect.Type, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(kind, inspect.UnionType):
        for part in kind.types:
            yield from _paths(part, prefix)
    elif isinstance(kind, inspect.StrType):
        yield prefix
    elif isinstance(kind, inspect.StructType):
        for field in kind.fields:
            yield from _paths(field.type, (*prefix, field.encode_name))
    elif isinstance(kind, inspect.VarTupleType | inspect.ListType):
        yield from _paths(kind.item_type, (*prefix, "*"))
    elif isinstance(kind, inspect.DictType):
        yield from _paths(kind.value_type, (*prefix, "{}"))
    elif isinstance(kind, inspect.AnyType):
        yield (*prefix, "{}")
