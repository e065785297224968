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


def prepare(struct_type: type[Any]) -> None:
    """Generate the walk of ``struct_type`` now, not in the first collection (about 70 ms for
    every kind together)."""
    if struct_type not in _WALKERS:
        _walker_for(struct_type)


def forget_seen() -> None:
    """Forget the identity values and maps seen so far, as a new process starts: a benchmark
    of the first cycle must not find them remembered from an earlier run."""
    for seen in _EXEMPT.values():
        seen.clear()
    _MAPS.clear()
    _EXEMPT_HELD[0] = 0


def string_fields(struct_type: type[Any]) -> Iterator[tuple[str, ...]]:
    """Wire paths (camelCase names) of every string a struct decodes, ``*`` for a sequence item
    and ``{}`` for a map value: the placements a secret corpus must cover."""
    yield from _paths(inspect.type_info(struct_type), ())


# --- the walk ---------------------------------------------------------------------------------
#
# A generic walk (getattr per field, a call per value) cost seven times the decode itself on
# 10k pods. Each struct type therefore gets a function generated from its field table once,
# with the field names written in: one attribute read per field, empty values skipped inline.


def _walk(item: Any, redactor: Redactor) -> None:
    walker = _WALKERS.get(type(item))
    if walker is None:
        walker = _walker_for(type(item))
    if _EXEMPT_HELD[0] > _EXEMPT_MAX:
        forget_seen()
    _EXEMPT_HELD[0] += 1
    walker(item, redactor, redactor.clean, redactor.cleaned.get)


_Walker = Callable[[Any, Redactor, Callable[[str], str], Callable[[str], str | None]], None]
_WALKERS: dict[type[Any], _Walker] = {}
# Identity values already seen to match their syntax, per field name: namespaces, node names,
# images and container names repeat on every pod. Emptied after this many objects (each adds a
# few unique names and uids), which bounds them to some tens of MB.
_EXEMPT: dict[str, set[str]] = {}
_EXEMPT_MAX = 50_000
# Cleaned maps, shared between equal inputs (the snapshot is read-only after collection, as in
# ``compact``); keyed with the redactor, since custom patterns change the result.
_MAPS: dict[tuple[Any, ...], Any] = {}
_EXEMPT_HELD = [0]


def _walker_for(struct_type: type[Any]) -> _Walker:
    info = inspect.type_info(struct_type)
    assert isinstance(info, inspect.StructType)
    source = _Source()
    body = source.struct(info, "o0", "    ", 0)
    lines = ["def walk(o0, r, clean, cached):", *(body or ["    return None"])]
    namespace: dict[str, Any] = dict(source.names)
    # Named after the struct, so tracebacks and profiles tell the generated functions apart.
    code = compile("\n".join(lines), f"<sanitize {struct_type.__name__}>", "exec")
    exec(code, namespace)  # noqa: S102 -- source built above from the field table
    walker: _Walker = namespace["walk"]
    return _WALKERS.setdefault(struct_type, walker)


class _Source:
    """The source of one walker: nested structs are written inline (no call per object)."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def name(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def struct(self, info: inspect.StructType, obj: str, pad: str, depth: int) -> list[str]:
        lines: list[str] = []
        for field in info.fields:
            lines += self.field(field.name, field.type, f"{obj}.{field.name}", pad, depth)
        return lines

    def field(self, name: str, kind: inspect.Type, target: str, pad: str, depth: int) -> list[str]:
        """Lines cleaning ``target`` (field ``name`` of type ``kind``); none for non-text."""
        if isinstance(kind, inspect.UnionType):
            parts = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
            if len(parts) == 1:
                return self.field(name, parts[0], target, pad, depth)
            return self.call(target, _clean_any, pad) if any(map(_holds_text, parts)) else []
        if isinstance(kind, inspect.StrType):
            return self.text(name, target, pad)
        if isinstance(kind, inspect.StructType):
            child = f"o{depth + 1}"
            body = self.struct(kind, child, pad + "    ", depth + 1)
            if not body:
                return []
            return [f"{pad}{child} = {target}", f"{pad}if {child} is not None:", *body]
        if isinstance(kind, inspect.VarTupleType | inspect.ListType):
            item = kind.item_type
            if isinstance(item, inspect.StructType):
                child = f"o{depth + 1}"
                body = self.struct(item, child, pad + "    ", depth + 1)
                return [f"{pad}for {child} in {target}:", *body] if body else []
            if isinstance(item, inspect.StrType):
                return self.call(target, _clean_argv if name in ARGV_FIELDS else _clean_strs, pad)
            return self.call(target, _clean_any, pad) if _holds_text(item) else []
        if isinstance(kind, inspect.DictType):
            if isinstance(kind.value_type, inspect.StrType):
                cleaner = _clean_annotations if name == "annotations" else _clean_map
                return self.call(target, cleaner, pad)
            if _is_str_map(kind.value_type):
                return self.call(target, _clean_maps, pad)
            return self.call(target, _clean_any, pad)
        if isinstance(kind, inspect.AnyType):
            return self.call(target, _clean_any, pad)
        return []

    def text(self, name: str, target: str, pad: str) -> list[str]:
        syntax = IDENTITY_FIELDS.get(name)
        if syntax is None:
            return [
                f"{pad}v = {target}",
                f"{pad}if v:",
                f"{pad}    w = cached(v)",
                f"{pad}    {target} = clean(v) if w is None else w",
            ]
        valid = self.name("valid", syntax.fullmatch)
        seen = self.name("seen", _EXEMPT.setdefault(name, set()))
        return [
            f"{pad}v = {target}",
            f"{pad}if v and v not in {seen}:",
            f"{pad}    if {valid}(v):",
            f"{pad}        {seen}.add(v)",
            f"{pad}    else:",
            f"{pad}        {target} = clean(v)",
        ]

    def call(self, target: str, cleaner: _Clean, pad: str) -> list[str]:
        helper = self.name(cleaner.__name__.lstrip("_"), cleaner)
        return [f"{pad}v = {target}", f"{pad}if v:", f"{pad}    {target} = {helper}(v, r)"]


def _holds_text(kind: inspect.Type) -> bool:
    return not isinstance(
        kind,
        inspect.IntType
        | inspect.FloatType
        | inspect.BoolType
        | inspect.NoneType
        | inspect.DateTimeType,
    )


def _clean_strs(values: tuple[str, ...], redactor: Redactor) -> tuple[str, ...]:
    return tuple(redactor.clean(value) for value in values)


def _clean_argv(values: tuple[str, ...], redactor: Redactor) -> tuple[str, ...]:
    return tuple(redactor.clean_argv(values))


def _is_str_map(kind: inspect.Type) -> bool:
    return isinstance(kind, inspect.DictType) and isinstance(kind.value_type, inspect.StrType)


def _clean_map(values: dict[str, str], redactor: Redactor) -> dict[str, str]:
    # Labels repeat across a workload's pods: equal maps share one cleaned result.
    key = (redactor, *values.items())
    done: dict[str, str] | None = _MAPS.get(key)
    if done is None:
        done = redactor.clean_mapping({_map_key(k, redactor): v for k, v in values.items()})
        _MAPS[key] = done
    return done


def _clean_maps(values: dict[str, dict[str, str]], redactor: Redactor) -> dict[str, dict[str, str]]:
    # Container resources: a handful of distinct shapes across a whole cluster.
    key = (redactor, *[(name, *inner.items()) for name, inner in values.items()])
    done: dict[str, dict[str, str]] | None = _MAPS.get(key)
    if done is None:
        done = {_map_key(k, redactor): _clean_map(v, redactor) for k, v in values.items()}
        _MAPS[key] = done
    return done


def _clean_annotations(values: dict[str, str], redactor: Redactor) -> dict[str, str]:
    kept = {_map_key(k, redactor): v for k, v in values.items() if k not in DROPPED_ANNOTATIONS}
    return redactor.clean_mapping(kept)


def _map_key(key: str, redactor: Redactor) -> str:
    seen = _EXEMPT.setdefault("{}", set())
    if key in seen:
        return key
    if _MAP_KEY.fullmatch(key):
        seen.add(key)
        return key
    return redactor.clean(key)


def _clean_any(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.clean(value)
    if isinstance(value, Struct):
        _walk(value, redactor)
        return value
    if isinstance(value, dict):
        return {
            _map_key(str(key), redactor): (
                redactor.clean_value(str(key), item)
                if isinstance(item, str)
                else _clean_any(item, redactor)
            )
            for key, item in value.items()
        }
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
