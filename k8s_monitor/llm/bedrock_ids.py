"""Bedrock model ids: which integration serves an id, and the id to send (pure, no I/O).

Bedrock reaches Claude two ways, with different id forms:

- **messages**: the Messages API served by Bedrock at ``/anthropic/v1/messages`` (the same
  request and response as Anthropic's API). Ids are ``anthropic.<model>``, no version suffix.
  Newer models are served here.
- **invoke**: InvokeModel at ``/model/{id}/invoke``. Ids are ARN-versioned
  (``anthropic.claude-sonnet-4-5-20250929-v1:0``), cross-region inference profiles
  (``us.``/``eu.``/``apac.``/``jp.``/``au.``/``global.`` + id), or full ARNs; some newer models
  are reachable here too, by their plain ``anthropic.<model>`` id or a profile.

``BEDROCK_API=auto`` picks by form: an ARN, a profile prefix or a version suffix means invoke;
``anthropic.<model>`` and a short undated name mean messages; a short dated name
(``claude-3-5-haiku-20241022``) is an older model, invoke. An id with ``anthropic.`` or an ARN is
sent exactly as written. A short name is mapped: ``anthropic.<name>`` for messages; for invoke
the geography's inference profile of it (``us.anthropic.<name>`` in ``us-east-1``), with
``-v1:0`` for a dated name, since on-demand InvokeModel of newer models needs a profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from k8s_monitor.config import BedrockApi

PROFILE_PREFIXES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
_PREFIX = "|".join(re.escape(p) for p in sorted(PROFILE_PREFIXES, key=len, reverse=True))
_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]+:(?:\d{12})?:"
    r"(?:foundation-model|inference-profile|application-inference-profile|provisioned-model"
    r"|custom-model-deployment|imported-model)/[A-Za-z0-9._:/-]+$"
)
_FULL = re.compile(
    rf"^(?:(?P<profile>{_PREFIX})\.)?anthropic\.(?P<name>claude-[a-z0-9-]*?[a-z0-9])"
    r"(?P<version>-v\d+(?::\d+)?(?::\d+k)?)?$"
)
_SHORT = re.compile(r"^claude-[a-z0-9-]*[a-z0-9]$")
_DATED = re.compile(r"-\d{8}$")

# Region -> the geography of its cross-region inference profiles.
_GEOGRAPHY = (
    ("us-gov-", "us-gov"),
    ("us-", "us"),
    ("eu-", "eu"),
    ("ap-northeast-1", "jp"),
    ("ap-northeast-3", "jp"),
    ("ap-southeast-2", "au"),
    ("ap-southeast-4", "au"),
    ("ap-", "apac"),
    ("ca-", "ca"),
)


@dataclass(frozen=True)
class BedrockModel:
    api: BedrockApi  # MESSAGES or INVOKE, never AUTO
    model_id: str  # exactly what goes into the request (body or path)
    written_in_full: bool  # the user wrote it; a short name was mapped


class ModelIdError(ValueError):
    """``ANTHROPIC_MODEL`` has no form the chosen Bedrock integration accepts."""


def resolve(model: str, api: BedrockApi, region: str) -> BedrockModel:
    """The integration and id for ``model`` (``ANTHROPIC_MODEL``) under ``BEDROCK_API``."""
    text = model.strip()
    if _ARN.match(text):
        return _full(text, api, needs_invoke="an ARN")
    full = _FULL.match(text)
    if full is not None:
        if full.group("profile"):
            return _full(text, api, needs_invoke=f"an inference profile ({full.group('profile')}.)")
        if full.group("version"):
            return _full(text, api, needs_invoke=f"a versioned id ({full.group('version')[1:]})")
        return BedrockModel(
            BedrockApi.INVOKE if api is BedrockApi.INVOKE else BedrockApi.MESSAGES, text, True
        )
    if _SHORT.match(text):
        return _short(text, api, region)
    raise ModelIdError(
        f"{text!r} is not a Bedrock id of Claude: expected a short name (claude-haiku-5-5), "
        "anthropic.<model>, a versioned id (...-v1:0), an inference profile (us./eu./apac./"
        "global. + id) or a bedrock ARN"
    )


def _full(text: str, api: BedrockApi, *, needs_invoke: str) -> BedrockModel:
    if api is BedrockApi.MESSAGES:
        raise ModelIdError(
            f"{text!r} is {needs_invoke}, which only InvokeModel accepts; with "
            "BEDROCK_API=messages use anthropic.<model> (no prefix, no version), or set "
            "BEDROCK_API=invoke (or auto)"
        )
    return BedrockModel(BedrockApi.INVOKE, text, True)


def _short(name: str, api: BedrockApi, region: str) -> BedrockModel:
    dated = _DATED.search(name) is not None
    if api is BedrockApi.MESSAGES or (api is BedrockApi.AUTO and not dated):
        return BedrockModel(BedrockApi.MESSAGES, f"anthropic.{name}", False)
    suffix = "-v1:0" if dated else ""
    return BedrockModel(BedrockApi.INVOKE, f"{geography(region)}.anthropic.{name}{suffix}", False)


def geography(region: str) -> str:
    """The inference-profile prefix for ``region`` (``global`` where no geography has one)."""
    for start, prefix in _GEOGRAPHY:
        if region.startswith(start):
            return prefix
    return "global"


def base_model(model_id: str) -> str:
    """``us.anthropic.claude-x-v1:0`` or an ARN -> ``anthropic.claude-x-v1:0`` (what to enable)."""
    tail = model_id.rsplit("/", 1)[-1]
    for prefix in PROFILE_PREFIXES:
        if tail.startswith(f"{prefix}.anthropic."):
            return tail[len(prefix) + 1 :]
    return tail
