"""Session encryption keys (``SESSION_ENCRYPTION_KEY``/``_FILE``): parsing and checking."""

from __future__ import annotations

from cryptography.fernet import Fernet


def parse_fernet_keys(text: str) -> list[str]:
    """Keys separated by commas, whitespace or lines; a line starting with ``#`` is a comment."""
    keys: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        keys.extend(part for part in line.replace(",", " ").split() if part)
    return keys


def require_fernet_keys(text: str) -> None:
    keys = parse_fernet_keys(text)
    if not keys:
        raise ValueError("expected one or more Fernet keys, found none")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError as exc:
            # Say which key, never what it was.
            raise ValueError(
                f"key {position} is not a valid Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `k8s-monitor sessions keygen` or Fernet.generate_key())"
            ) from exc
