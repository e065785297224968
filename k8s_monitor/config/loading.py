"""Loading settings: pydantic's report becomes one ``ConfigurationError`` naming the variable."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from k8s_monitor.config.settings import Settings
from k8s_monitor.errors import ConfigurationError

SECRET_FIELDS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation is not None and "SecretStr" in str(field.annotation)
)


def env_name(field: str) -> str:
    return field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning pydantic's report into one ``ConfigurationError`` per program.

    The first error wins: a daemon that refuses to start needs one clear line, not a table.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _as_configuration_error(exc) from exc


def _as_configuration_error(exc: ValidationError) -> ConfigurationError:
    error = exc.errors(include_url=False)[0]
    location = [str(part) for part in error.get("loc", ()) if not str(part).isdigit()]
    field = location[0] if location else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    message = " ".join(message.split())  # one line, whatever the parser printed
    if not field:  # model-level check: the message names the variables itself
        return ConfigurationError("configuration", message)
    shown = _shown_value(field, error.get("input"))
    return ConfigurationError(env_name(field), f"{shown}: {message}")


_URL_CREDENTIALS = re.compile(r"//[^/@\s]+@")


def _shown_value(field: str, value: Any) -> str:
    if field in SECRET_FIELDS:
        return "value hidden (secret)"
    text = value if isinstance(value, str) else repr(value)
    # A URL's user:password would otherwise be printed back (ALERTMANAGER_URLS refuses them).
    text = _URL_CREDENTIALS.sub("//[REDACTED]@", text)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"got {text!r}"
