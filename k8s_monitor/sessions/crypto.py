"""Encryption at rest: Fernet keys, the first encrypts and every key decrypts (rotation)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from k8s_monitor.config import parse_fernet_keys as parse_keys
from k8s_monitor.errors import ConfigurationError, SessionDecryptError


class SessionCipher:
    """Wraps ``MultiFernet``; errors come out as this project's types."""

    def __init__(self, keys: Sequence[str], *, setting: str = "SESSION_ENCRYPTION_KEY") -> None:
        if not keys:
            raise ConfigurationError(setting, "no key given")
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError as exc:
                # Never echo the key: say which one, not what it was.
                raise ConfigurationError(
                    setting, f"key {position} is not a valid Fernet key (32 url-safe base64 bytes)"
                ) from exc
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SessionDecryptError(
                "none of the configured session keys decrypts this session "
                "(wrong SESSION_ENCRYPTION_KEY?); the file is left untouched"
            ) from exc


def read_key_file(path: Path) -> list[str]:
    try:
        return parse_keys(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("SESSION_ENCRYPTION_KEY_FILE", f"cannot read keys: {exc}") from exc


__all__ = ["SessionCipher", "generate_key", "parse_keys", "read_key_file"]


def generate_key() -> str:
    return Fernet.generate_key().decode()
