"""Settings: the one place every environment variable is declared and validated.

Names and defaults of the seed (``ENABLE_LONG_CONTEXT``, ``SESSION_ID``, ``MAX_CONTEXT_TOKENS``,
``CONTEXT_PRUNE_THRESHOLD``) are a contract with existing deployments; keep them. Every field
here must also appear in ``.env.example`` (a test checks it).
"""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from cryptography.fernet import Fernet
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from k8s_monitor.errors import ConfigurationError

CommaList = Annotated[list[str], NoDecode]


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LLMProvider(StrEnum):
    AUTO = "auto"
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    OFFLINE = "offline"


class Settings(BaseSettings):
    """Runtime configuration, read from the environment and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- mode and session (the seed's names) -------------------------------------------------
    enable_long_context: bool = Field(
        False, description="true: one persistent conversation; false: stateless cycles"
    )
    session_id: str = Field(
        "k8s-monitor-default", pattern=r"^[A-Za-z0-9._-]{1,128}$", description="session name"
    )
    max_context_tokens: int = Field(120_000, ge=1_000, le=2_000_000)
    context_prune_threshold: float = Field(0.8, gt=0.0, le=1.0)
    prune_target_ratio: float = Field(
        0.5, gt=0.0, lt=1.0, description="after a prune, history fills this share of the max"
    )
    critical_keywords: CommaList = Field(
        default_factory=lambda: ["critical", "escalation", "failed", "error", "down", "outage"]
    )
    session_dir: Path = Path("sessions")
    session_backups: int = Field(5, ge=0, le=100)
    session_encryption_key: SecretStr | None = None
    session_encryption_key_file: Path | None = None

    # --- scheduling ------------------------------------------------------------------------
    monitoring_interval_minutes: float = Field(15.0, gt=0.0, le=24 * 60)
    scheduler_jitter_seconds: float = Field(0.0, ge=0.0)
    misfire_grace_seconds: float = Field(60.0, gt=0.0)
    shutdown_deadline_seconds: float = Field(25.0, gt=0.0, le=600.0)

    # --- logs, reports, metrics ------------------------------------------------------------
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.AUTO
    report_dir: Path = Path("reports")
    report_retention: int = Field(200, ge=1, description="cycle reports kept on disk")
    metrics_port: int = Field(8080, ge=0, le=65535, description="0 disables the HTTP server")
    metrics_host: str = "0.0.0.0"  # noqa: S104 - the pod's probes and Prometheus reach it

    # --- cluster access and collection -----------------------------------------------------
    cluster_name: str = Field("kubernetes", min_length=1, max_length=128)
    kubeconfig: Path | None = None
    kube_context: str | None = None
    namespace_include: CommaList = Field(default_factory=list)
    namespace_exclude: CommaList = Field(default_factory=list)
    label_selector: str | None = None
    collect_page_size: int = Field(500, ge=1, le=10_000)
    collect_timeout_seconds: float = Field(30.0, gt=0.0, le=600.0)
    collect_concurrency: int = Field(4, ge=1, le=32)
    event_window_minutes: float = Field(60.0, gt=0.0)
    log_tail_lines: int = Field(50, ge=0, le=5_000)
    log_tail_bytes: int = Field(8_192, ge=0, le=1_048_576)
    log_tail_max_containers: int = Field(10, ge=0, le=500)
    redact_patterns: CommaList = Field(default_factory=list)
    blind_after_failures: int = Field(3, ge=1, le=1_000)

    # --- analysis and notification ---------------------------------------------------------
    services_file: Path | None = None
    resolve_after_cycles: int = Field(1, ge=1, le=1_000)
    notify_cooldown_minutes: float = Field(60.0, ge=0.0)
    slack_webhook_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    notify_timeout_seconds: float = Field(10.0, gt=0.0, le=120.0)

    # --- model -----------------------------------------------------------------------------
    llm_provider: LLMProvider = LLMProvider.AUTO
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = Field("claude-haiku-5-5", min_length=1)
    anthropic_base_url: str | None = None
    aws_region: str | None = None
    llm_max_output_tokens: int = Field(2_048, ge=256, le=64_000)
    llm_timeout_seconds: float = Field(120.0, gt=0.0, le=900.0)
    llm_max_retries: int = Field(2, ge=0, le=10)
    cycle_message_max_tokens: int = Field(12_000, ge=500, le=200_000)
    compare_modes: bool = False

    # --- investigation (the model's read-only tools) ------------------------------------------
    investigate: bool = True
    investigate_max_incidents: int = Field(3, ge=0, le=20)
    investigate_max_tool_calls: int = Field(8, ge=1, le=50)
    investigate_max_tokens: int = Field(40_000, ge=2_000, le=1_000_000)
    investigate_deadline_seconds: float = Field(120.0, gt=0.0, le=3_600.0)
    tool_output_max_tokens: int = Field(4_000, ge=200, le=50_000)

    @property
    def investigate_deadline(self) -> float:
        """Seconds an investigation may take: the setting, and never past half the interval."""
        return min(self.investigate_deadline_seconds, self.monitoring_interval_minutes * 30.0)

    # --- validators ------------------------------------------------------------------------

    @field_validator("critical_keywords", "namespace_include", "namespace_exclude", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("redact_patterns", mode="before")
    @classmethod
    def _split_patterns(cls, value: Any) -> Any:
        # Regular expressions contain commas ({2,5}); take a JSON array or one per line.
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON array of patterns: {exc}") from exc
        return [line.strip() for line in value.splitlines() if line.strip()]

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from exc
        return value

    @field_validator("kubeconfig", mode="before")
    @classmethod
    def _first_kubeconfig(cls, value: Any) -> Any:
        # kubectl accepts a PATH-style list; the client merges them, we check each is readable.
        if isinstance(value, str) and os.pathsep in value:
            for part in value.split(os.pathsep):
                _require_readable_file(Path(part))
            return value.split(os.pathsep)[0]
        return value

    @field_validator("kubeconfig", "services_file", "session_encryption_key_file")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _require_readable_file(value)
        return value

    @field_validator("anthropic_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("slack_webhook_url", "webhook_url")
    @classmethod
    def _http_secret_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("session_encryption_key")
    @classmethod
    def _valid_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _require_fernet_keys(value.get_secret_value())
        return value

    @field_validator("session_encryption_key_file")
    @classmethod
    def _valid_key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                text = value.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read keys from {str(value)!r}: {exc}") from exc
            _require_fernet_keys(text)
        return value

    @field_validator("session_dir", "report_dir")
    @classmethod
    def _directory_or_absent(cls, value: Path) -> Path:
        # Created on first use; a path that exists must be a directory we can write to.
        if value.exists() and not value.is_dir():
            raise ValueError(f"expected a directory, but {str(value)!r} is a file")
        if value.is_dir() and not os.access(value, os.W_OK | os.X_OK):
            raise ValueError(f"expected a writable directory, but {str(value)!r} is not")
        return value

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig_parses(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        try:
            document = yaml.safe_load(value.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(f"{str(value)!r} is not a valid kubeconfig (YAML): {exc}") from exc
        if not isinstance(document, dict):
            raise ValueError(  # noqa: TRY004 - pydantic turns ValueError into the user message
                f"{str(value)!r} is not a valid kubeconfig (expected a mapping)"
            )
        return value

    @field_validator("kube_context")
    @classmethod
    def _context_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        kubeconfig = info.data.get("kubeconfig")
        if value is None or kubeconfig is None:
            return value  # in-cluster, or ~/.kube/config: the client reports it at start
        contexts = _kubeconfig_contexts(kubeconfig)
        if value not in contexts:
            known = ", ".join(sorted(contexts)[:10]) or "none"
            raise ValueError(f"no context {value!r} in {str(kubeconfig)!r} (it has: {known})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.llm_provider is LLMProvider.ANTHROPIC and self.anthropic_api_key is None:
            raise ValueError("LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        return self

    # --- derived values --------------------------------------------------------------------

    @property
    def interval_seconds(self) -> float:
        return self.monitoring_interval_minutes * 60.0

    @property
    def mode(self) -> str:
        return "persistent" if self.enable_long_context else "stateless"

    @property
    def resolved_provider(self) -> LLMProvider:
        """``auto`` becomes anthropic when a key is set, else offline."""
        if self.llm_provider is not LLMProvider.AUTO:
            return self.llm_provider
        return LLMProvider.ANTHROPIC if self.anthropic_api_key else LLMProvider.OFFLINE

    @property
    def spool_dir(self) -> Path:
        """Per session: two daemons sharing a SESSION_DIR must not share an outbox."""
        return self.session_dir / "spool" / self.session_id


def parse_fernet_keys(text: str) -> list[str]:
    """Keys separated by commas, whitespace or lines; a line starting with ``#`` is a comment."""
    keys: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        keys.extend(part for part in line.replace(",", " ").split() if part)
    return keys


def _require_fernet_keys(text: str) -> None:
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


def _kubeconfig_contexts(path: Path) -> set[str]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = document.get("contexts") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return set()
    return {str(e["name"]) for e in entries if isinstance(e, dict) and "name" in e}


def _require_readable_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"expected a readable file, but {str(path)!r} does not exist")
    if not os.access(path, os.R_OK):
        raise ValueError(f"expected a readable file, but {str(path)!r} cannot be read")


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


def _shown_value(field: str, value: Any) -> str:
    if field in SECRET_FIELDS:
        return "value hidden (secret)"
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"got {text!r}"
