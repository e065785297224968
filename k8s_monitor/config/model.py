"""The model: provider (Anthropic, Bedrock, offline), limits, prices and the call policy."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from k8s_monitor.config.checks import HttpUrlText, ReadableFile, read_secret_file
from k8s_monitor.config.prices import parse_price_override
from k8s_monitor.config.section import Section


class LLMProvider(StrEnum):
    AUTO = "auto"
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    OFFLINE = "offline"


class BedrockApi(StrEnum):
    """Which Bedrock integration carries the requests (see ``llm.bedrock_ids``)."""

    AUTO = "auto"  # by the form of ANTHROPIC_MODEL
    MESSAGES = "messages"  # the Messages API at /anthropic/v1/messages (ids anthropic.<model>)
    INVOKE = "invoke"  # InvokeModel at /model/{id}/invoke (versioned ids, profiles, ARNs)


class CallPolicy(StrEnum):
    """When a cycle asks the model (``LLM_CALL_POLICY``)."""

    ON_CHANGE = "on-change"
    EVERY_CYCLE = "every-cycle"


class ModelSection(Section):
    llm_provider: LLMProvider = LLMProvider.AUTO
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = Field("claude-haiku-5-5", min_length=1)
    anthropic_base_url: HttpUrlText | None = None
    aws_region: str | None = None
    bedrock_api: BedrockApi = BedrockApi.AUTO
    bedrock_api_key_file: ReadableFile | None = None
    llm_max_output_tokens: int = Field(2_048, ge=256, le=64_000)
    llm_timeout_seconds: float = Field(120.0, gt=0.0, le=900.0)
    llm_max_retries: int = Field(2, ge=0, le=10)
    cycle_message_max_tokens: int = Field(12_000, ge=500, le=200_000)
    compare_modes: bool = False
    llm_call_policy: CallPolicy = CallPolicy.ON_CHANGE
    llm_heartbeat_cycles: int = Field(
        12, ge=1, le=100_000, description="on-change: ask at least every this many cycles"
    )
    # JSON: {"input": 3.0, "output": 15.0, "context_window": 200000, "min_cacheable_tokens":
    # 1024} in USD per million tokens; prices a model the shipped table does not know.
    model_price_override: str | None = None

    @field_validator("bedrock_api_key_file")
    @classmethod
    def _key_in_file(cls, value: Path | None) -> Path | None:
        if value is not None and not read_secret_file(value):
            raise ValueError(f"{str(value)!r} holds no key (expected one Bedrock API key)")
        return value

    @field_validator("model_price_override")
    @classmethod
    def _price_override_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_price_override(value)
        return value

    @property
    def resolved_provider(self) -> LLMProvider:
        """``auto`` becomes anthropic when a key is set, else offline."""
        if self.llm_provider is not LLMProvider.AUTO:
            return self.llm_provider
        return LLMProvider.ANTHROPIC if self.anthropic_api_key else LLMProvider.OFFLINE
