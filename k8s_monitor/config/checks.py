"""Value types several sections share, each with its check: lists read from one variable,
readable files, http(s) URLs, usable directories.

A check raises ``ValueError`` with the message the user sees (``loading`` names the variable).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, SecretStr
from pydantic_settings import NoDecode


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


def require_readable_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"expected a readable file, but {str(path)!r} does not exist")
    if not os.access(path, os.R_OK):
        raise ValueError(f"expected a readable file, but {str(path)!r} cannot be read")
    return path


def _require_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


def _require_http_secret_url(value: SecretStr) -> SecretStr:
    _require_http_url(value.get_secret_value())
    return value


def _directory_or_absent(value: Path) -> Path:
    # Created on first use; a path that exists must be a directory we can write to.
    if value.exists() and not value.is_dir():
        raise ValueError(f"expected a directory, but {str(value)!r} is a file")
    if value.is_dir() and not os.access(value, os.W_OK | os.X_OK):
        raise ValueError(f"expected a writable directory, but {str(value)!r} is not")
    return value


# The raw string from the environment (not JSON, pydantic-settings' default) as "a, b, c".
CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_commas)]
# A type's own check runs before the field's validators: a file is readable before it is parsed.
ReadableFile = Annotated[Path, AfterValidator(require_readable_file)]
HttpUrlText = Annotated[str, AfterValidator(_require_http_url)]
HttpSecretUrl = Annotated[SecretStr, AfterValidator(_require_http_secret_url)]
WritableDirectory = Annotated[Path, AfterValidator(_directory_or_absent)]
