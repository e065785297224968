"""A session document to the bytes of its file and back: checks, checksum, Fernet envelope.

Every document passes the redaction guard on its way to disk, and its ``state`` records the
guard's fingerprint. A document read back with the same fingerprint is handed to the guard as
already checked: the first save after a restart then checks only what is new, not the whole
history again (half a second for a 400 KB session). Other patterns, or none recorded (an
older version's file), mean the whole document is checked again on its next save.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from k8s_monitor.errors import (
    SessionCorruptError,
    SessionDecryptError,
    SessionSchemaError,
    StorageError,
)
from k8s_monitor.redaction import GUARD
from k8s_monitor.sessions import schema
from k8s_monitor.sessions.crypto import SessionCipher

# The ``state`` key naming the guard patterns the document passed on its way to disk.
GUARDED_WITH = "guarded_with"


class Loaded(NamedTuple):
    document: dict[str, Any]
    encrypted: bool  # the file was an envelope


class SessionCodec:
    """Encrypts when it has a cipher; decrypts envelopes, passes plaintext files through."""

    def __init__(self, cipher: SessionCipher | None, *, max_depth: int) -> None:
        self._cipher = cipher
        self._max_depth = max_depth

    @property
    def encrypts(self) -> bool:
        return self._cipher is not None

    def encode(self, session_id: str, document: dict[str, Any]) -> bytes:
        """The file's bytes; a document the next load would refuse raises ``StorageError``."""
        document = GUARD.obj("session", document)
        document["state"] = {**(document.get("state") or {}), GUARDED_WITH: GUARD.fingerprint}
        try:
            schema.check_writable(document, self._max_depth)
            data = schema.encode(document)
        except (TypeError, SessionCorruptError) as exc:
            raise StorageError(f"session {session_id!r} cannot be saved: {exc}") from exc
        if self._cipher is None:
            return data
        return schema.encode(
            {
                "schema_version": schema.SCHEMA_VERSION,
                "session_id": session_id,
                "saved_at": document["saved_at"],
                "encryption": schema.ENCRYPTION_FERNET,
                "ciphertext": self._cipher.encrypt(data).decode(),
            }
        )

    def load(self, raw: bytes) -> Loaded:
        return Loaded(self.decode(raw), encrypted=_is_envelope(raw))

    def decode(self, raw: bytes) -> dict[str, Any]:
        """The validated document; raises ``SessionCorruptError`` and its kin."""
        document = self._decode(raw)
        # A mark of the file, not of the session: a load returns what was saved.
        if document["state"].pop(GUARDED_WITH, None) == GUARD.fingerprint:
            GUARD.passed(document)
        return document

    def _decode(self, raw: bytes) -> dict[str, Any]:
        outer = schema.decode(raw, max_depth=self._max_depth)
        schema.check_version(outer)
        encryption = outer.get("encryption")
        if encryption is None:
            return schema.validate(outer)
        if encryption != schema.ENCRYPTION_FERNET:
            raise SessionSchemaError(f"unsupported encryption {str(encryption)[:40]!r}")
        ciphertext = outer.get("ciphertext")
        if not isinstance(ciphertext, str):
            raise SessionCorruptError("encrypted session without ciphertext")
        if self._cipher is None:
            raise SessionDecryptError(
                "the session is encrypted; set SESSION_ENCRYPTION_KEY or "
                "SESSION_ENCRYPTION_KEY_FILE (the file is left untouched)"
            )
        inner = schema.decode(self._cipher.decrypt(ciphertext.encode()), max_depth=self._max_depth)
        return schema.validate(inner)


def _is_envelope(raw: bytes) -> bool:
    # Cheap: the envelope's fourth member; a plaintext session never has it so early.
    return b'"encryption":"fernet"' in raw[:512]
