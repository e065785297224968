"""Alerting: Alertmanager receivers (URLs, auth, CA, generator link) and the heartbeat URL.

The auth pairing (basic auth or a bearer token, not both) is checked on ``Settings``.
"""

from __future__ import annotations

import ssl
import urllib.parse
from pathlib import Path

from pydantic import Field, field_validator

from k8s_monitor.config.checks import (
    CommaList,
    HttpSecretUrl,
    HttpUrlText,
    ReadableFile,
    read_secret_file,
)
from k8s_monitor.config.section import Section


class AlertingSection(Section):
    alertmanager_urls: CommaList = Field(default_factory=list)
    alertmanager_bearer_token_file: ReadableFile | None = None
    alertmanager_username: str | None = None
    alertmanager_password_file: ReadableFile | None = None
    alertmanager_ca_file: ReadableFile | None = None
    alertmanager_generator_url: HttpUrlText | None = None
    heartbeat_url: HttpSecretUrl | None = None

    @field_validator("alertmanager_bearer_token_file", "alertmanager_password_file")
    @classmethod
    def _secret_file_not_empty(cls, value: Path | None) -> Path | None:
        if value is not None and not read_secret_file(value):
            raise ValueError(f"{str(value)!r} is empty")
        return value

    @field_validator("alertmanager_ca_file")
    @classmethod
    def _ca_file_loads(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                ssl.create_default_context(cafile=str(value))
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"{str(value)!r} holds no PEM certificate: {exc}") from exc
        return value

    @field_validator("alertmanager_urls")
    @classmethod
    def _alertmanager_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
            if parts.username or parts.password:
                raise ValueError(
                    "credentials in the URL would end up in logs; use "
                    "ALERTMANAGER_USERNAME with ALERTMANAGER_PASSWORD_FILE, "
                    "or ALERTMANAGER_BEARER_TOKEN_FILE"
                )
        if len(set(value)) != len(value):
            raise ValueError("the same URL appears twice")
        return value
