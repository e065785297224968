"""The session file format: versions, migration, validation, and the checksum trailer.

A file is one JSON object. Version 1 is the seed's (``session_id``, ``conversation_history``,
``metadata``, ``saved_at``, no ``schema_version``); version 2 adds ``schema_version``, ``state``
and a ``checksum`` written as the object's *last* member over the exact bytes before it, so
verification hashes the raw file instead of re-serialising it. Unknown top-level members are
kept as they are. An encrypted file is a version-2 envelope whose ``ciphertext`` holds the
Fernet token of a complete plaintext file (checksum included).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

from k8s_monitor.errors import InvalidSessionIdError, SessionCorruptError, SessionSchemaError
from k8s_monitor.sessions.messages import ROLES

SCHEMA_VERSION = 2
SEED_VERSION = 1
MAX_DEPTH = 64  # real sessions nest about 8 deep; deeper is hostile or broken
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
ENCRYPTION_FERNET = "fernet"

_CHECKSUM_PREFIX = b',"checksum":"sha256:'
_TRAILER = re.compile(rb',"checksum":"sha256:([0-9a-f]{64})"\}\s*\Z')
_TRAILER_WINDOW = 128
_CORE_FIELDS = ("schema_version", "session_id", "saved_at", "conversation_history", "metadata")


def validate_session_id(session_id: Any) -> str:
    """Return the id, or raise ``InvalidSessionIdError``: ids become file names."""
    if (
        not isinstance(session_id, str)
        or not SESSION_ID_PATTERN.fullmatch(session_id)
        or session_id in {".", ".."}
    ):
        raise InvalidSessionIdError(
            f"invalid session id {str(session_id)[:140]!r}: expected [A-Za-z0-9._-]{{1,128}}"
        )
    return session_id


def encode(document: Mapping[str, Any]) -> bytes:
    """Serialise ``document`` (without ``checksum``) and append the checksum member."""
    try:
        body = orjson.dumps(document)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise TypeError(f"session content is not JSON-serialisable: {exc}") from exc
    digest = hashlib.sha256(body).hexdigest().encode()
    return body[:-1] + _CHECKSUM_PREFIX + digest + b'"}'


def decode(raw: bytes, *, require_checksum: bool = True, max_depth: int = MAX_DEPTH) -> Any:
    """Parse and verify one file's bytes; the result still needs ``validate``.

    Files without ``schema_version`` (the seed's) carry no checksum and are accepted without
    one; any file that claims version 2 or later must verify.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SessionCorruptError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SessionCorruptError("the top level is not a JSON object")
    _check_depth(document, max_depth)
    claimed = document.pop("checksum", None)
    version = document.get("schema_version", SEED_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return document  # a newer format may checksum differently; check_version refuses it
    if claimed is None and require_checksum and version != SEED_VERSION:
        raise SessionCorruptError("the checksum is missing")
    if claimed is not None:
        _verify_checksum(raw, claimed)
    return document


def _verify_checksum(raw: bytes, claimed: Any) -> None:
    tail_start = max(0, len(raw) - _TRAILER_WINDOW)
    match = _TRAILER.search(raw, tail_start)
    if match is None or claimed != "sha256:" + match.group(1).decode():
        raise SessionCorruptError("the checksum member is malformed or not last")
    digest = hashlib.sha256()
    digest.update(memoryview(raw)[: match.start()])
    digest.update(b"}")
    if digest.hexdigest() != match.group(1).decode():
        raise SessionCorruptError("checksum mismatch: the file was altered or torn")


def version_of(document: Mapping[str, Any]) -> int:
    version = document.get("schema_version", SEED_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < SEED_VERSION:
        raise SessionCorruptError(f"schema_version {version!r} is not a positive integer")
    return version


def check_version(document: Mapping[str, Any]) -> int:
    version = version_of(document)
    if version > SCHEMA_VERSION:
        raise SessionSchemaError(
            f"written by schema version {version}; this program reads up to {SCHEMA_VERSION}. "
            "Upgrade k8s-monitor; the file is left untouched"
        )
    return version


def validate(document: dict[str, Any]) -> dict[str, Any]:
    """Check a decrypted document's shape and migrate it to the current version in place."""
    version = check_version(document)
    if document.get("encryption") is not None:
        raise SessionCorruptError("an encrypted envelope cannot hold another envelope")
    if not isinstance(document.get("session_id"), str):
        raise SessionCorruptError("session_id is missing or not a string")
    _check_history(document.get("conversation_history"))
    metadata = document.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise SessionCorruptError("metadata is not an object")
    state = document.setdefault("state", {})
    if not isinstance(state, dict):
        raise SessionCorruptError("state is not an object")
    saved_at = document.get("saved_at")
    if saved_at is not None and not isinstance(saved_at, str):
        raise SessionCorruptError("saved_at is not a string")
    if version < SCHEMA_VERSION:
        document["schema_version"] = SCHEMA_VERSION
    return document


def _check_history(history: Any) -> None:
    if not isinstance(history, list):
        raise SessionCorruptError("conversation_history is missing or not a list")
    for position, message in enumerate(history):
        if not isinstance(message, dict):
            raise SessionCorruptError(f"message {position} is not an object")
        if message.get("role") not in ROLES:
            raise SessionCorruptError(f"message {position} has an invalid role")
        content = message.get("content")
        if isinstance(content, list):
            if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in content):
                raise SessionCorruptError(f"message {position} has a malformed content block")
        elif not isinstance(content, str):
            raise SessionCorruptError(f"message {position} has no string or block content")
        if "meta" in message and not isinstance(message["meta"], dict):
            raise SessionCorruptError(f"message {position} has a non-object meta")


def check_writable(document: Mapping[str, Any], max_depth: int = MAX_DEPTH) -> None:
    """What ``validate`` would refuse on the next load must never be written in the first place."""
    _check_history(document.get("conversation_history"))
    for key in ("metadata", "state"):
        if not isinstance(document.get(key), dict):
            raise SessionCorruptError(f"{key} is not an object")
    _check_depth(document, max_depth)


def extras_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level members this version does not own, carried over on the next save."""
    own = {*_CORE_FIELDS, "state", "checksum", "encryption", "ciphertext"}
    return {key: value for key, value in document.items() if key not in own}


def _check_depth(root: Any, max_depth: int) -> None:
    # Iterative, so a hostile file cannot exhaust the interpreter's stack here.
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise SessionCorruptError(f"nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if _container(child))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if _container(child))


def _container(value: Any) -> bool:
    return isinstance(value, dict | list)
