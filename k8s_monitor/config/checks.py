"""Checks several sections share: lists from one variable, readable files, URLs, directories.

Each raises ``ValueError`` with the message the user sees (``loading`` adds the variable name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr
from pydantic_settings import NoDecode

# A list read from one variable as "a, b, c" (not as JSON, pydantic-settings' default).
CommaList = Annotated[list[str], NoDecode]


def split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def read_secret_file(path: Path) -> str:
    """A key, token or password kept in a file (a mounted Secret): its text, trimmed."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {type(exc).__name__}") from exc


def require_readable_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"expected a readable file, but {str(path)!r} does not exist")
    if not os.access(path, os.R_OK):
        raise ValueError(f"expected a readable file, but {str(path)!r} cannot be read")


def readable_file_or_none(value: Path | None) -> Path | None:
    if value is not None:
        require_readable_file(value)
    return value


def http_url_or_none(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


def http_secret_url_or_none(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


def directory_or_absent(value: Path) -> Path:
    # Created on first use; a path that exists must be a directory we can write to.
    if value.exists() and not value.is_dir():
        raise ValueError(f"expected a directory, but {str(value)!r} is a file")
    if value.is_dir() and not os.access(value, os.W_OK | os.X_OK):
        raise ValueError(f"expected a writable directory, but {str(value)!r} is not")
    return value
