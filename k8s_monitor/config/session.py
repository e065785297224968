"""Mode and session: the seed's names, history pruning, where sessions live, their keys.

``ENABLE_LONG_CONTEXT``, ``SESSION_ID``, ``MAX_CONTEXT_TOKENS`` and ``CONTEXT_PRUNE_THRESHOLD``
(names and defaults) are a contract with existing deployments; keep them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from k8s_monitor.config.checks import CommaList, ReadableFile, WritableDirectory
from k8s_monitor.config.keys import require_fernet_keys
from k8s_monitor.config.section import Section


class SessionSection(Section):
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
    session_dir: WritableDirectory = Path("sessions")
    session_backups: int = Field(5, ge=0, le=100)
    session_encryption_key: SecretStr | None = None
    session_encryption_key_file: ReadableFile | None = None

    @field_validator("session_encryption_key")
    @classmethod
    def _valid_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            require_fernet_keys(value.get_secret_value())
        return value

    @field_validator("session_encryption_key_file")
    @classmethod
    def _valid_key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                text = value.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read keys from {str(value)!r}: {exc}") from exc
            require_fernet_keys(text)
        return value

    @property
    def mode(self) -> str:
        return "persistent" if self.enable_long_context else "stateless"

    @property
    def spool_dir(self) -> Path:
        """Per session: two daemons sharing a SESSION_DIR must not share an outbox."""
        return self.session_dir / "spool" / self.session_id
