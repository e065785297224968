"""Model providers: the Anthropic API and Bedrock through the official SDK, or none (offline).

This is the only module that uses ``anthropic`` (imported through ``sdk``). SDK failures are
mapped by type, status and ``error.details.error_code`` to ``k8s_monitor.errors`` (never by
message text):

- spend limit (429 with a spend-limit ``error_code``): ``ModelFatalError``, and the SDK must not
  retry it, so a middleware stops the retry loop on the first such response;
- 401/402/403/404 and credential problems: ``ModelFatalError`` (needs a configuration change);
- 413, or 400 with a context ``error_code``: ``ContextTooLongError``; other 400/422:
  ``ModelRequestError``;
- 408/409/429/5xx/529, timeouts and connection failures (after the SDK's own retries):
  ``ModelRetryableError``; a body that does not parse: ``ModelAnswerError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from k8s_monitor.config import BedrockApi, LLMProvider, Settings, read_secret_file
from k8s_monitor.errors import (
    ConfigurationError,
    ContextTooLongError,
    ModelAnswerError,
    ModelError,
    ModelFatalError,
    ModelRequestError,
    ModelRetryableError,
)
from k8s_monitor.llm.accounting import load_price_table, price_table_for, usage_from_api
from k8s_monitor.llm.bedrock import (
    BedrockClient,
    BedrockCounters,
    MissingCredentialsError,
    signing_error,
    signing_errors,
)
from k8s_monitor.llm.bedrock import build_client as build_bedrock_client
from k8s_monitor.llm.bedrock import explain as explain_bedrock_error
from k8s_monitor.llm.bedrock import request_extras as bedrock_request_extras
from k8s_monitor.llm.bedrock_ids import BedrockModel, ModelIdError
from k8s_monitor.llm.bedrock_ids import resolve as resolve_bedrock_model
from k8s_monitor.llm.protocol import ModelProvider, ModelReply, ModelRequest
from k8s_monitor.llm.sdk import anthropic
from k8s_monitor.llm.wire import build_request

log = structlog.get_logger(__name__)

SPEND_LIMIT_CODES = frozenset(
    {
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
    }
)
# The API reports an over-long prompt as a 400; these codes name it where it is coded.
CONTEXT_CODES = frozenset({"prompt_too_long", "context_length_exceeded", "context_window_exceeded"})


class AnthropicProvider:
    """Calls ``messages.create`` with structured output on an ``Anthropic``-style client."""

    def __init__(
        self,
        client: anthropic.Anthropic | BedrockClient,
        *,
        model: str,
        name: str,
        context_window: int | None = None,
        bedrock: BedrockTarget | None = None,
    ) -> None:
        self._client = client
        self.model = model
        self.name = name
        self.context_window = context_window or load_price_table().price(model).context_window
        self.bedrock = bedrock
        # What the integration needs beyond Anthropic's request (InvokeModel's body version).
        self._extras = bedrock_request_extras(bedrock.model.api) if bedrock else {}
        # Bedrock signs each request with the AWS chain (botocore): its failures are not SDK errors.
        self._signing_errors: tuple[type[BaseException], ...] = (
            signing_errors() if bedrock is not None else ()
        )

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": request.messages,
        }
        if request.output_schema is not None:
            kwargs["output_config"] = {
                "format": {"type": "json_schema", "schema": request.output_schema}
            }
        if request.tools:
            kwargs["tools"] = request.tools
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        try:
            message = self._client.messages.create(**kwargs, **self._extras)
        except ModelError:
            raise
        except anthropic.AnthropicError as exc:
            raise self._map_error(exc) from exc
        except ValueError as exc:  # a 2xx body that is not JSON
            raise ModelAnswerError(f"unreadable response body: {type(exc).__name__}") from exc
        except self._signing_errors as exc:
            raise signing_error(exc) from exc
        if not isinstance(getattr(message, "content", None), list):
            # A proxy or gateway answering 200 with a page of its own (HTML, a login form): the
            # SDK hands back the raw text instead of a message.
            raise ModelAnswerError(f"unreadable response body: {type(message).__name__}")
        text = "".join(block.text for block in message.content if block.type == "text")
        return ModelReply(
            content=[_block_data(block) for block in message.content],
            text=text,
            usage=usage_from_api(message.usage, requested_ttl=requested_ttl(request)),
            model=message.model or self.model,
            stop_reason=message.stop_reason,
            request_id=getattr(message, "_request_id", None),
            latency_seconds=time.perf_counter() - started,
        )

    def count_tokens(self, request: ModelRequest) -> int | None:
        if self.bedrock is not None and self.bedrock.model.api is BedrockApi.INVOKE:
            return None  # InvokeModel has no count endpoint: the counter estimates
        try:
            kwargs: dict[str, Any] = {
                "model": self.model,
                "system": request.system,
                "messages": request.messages,
            }
            if request.tools:
                kwargs["tools"] = request.tools
            result = self._client.messages.count_tokens(**kwargs)
        except (anthropic.AnthropicError, ModelError, ValueError) as exc:
            log.info("count_tokens_unavailable", error_type=type(exc).__name__)
            return None
        except self._signing_errors as exc:
            log.info("count_tokens_unavailable", error_type=type(exc).__name__)
            return None
        return int(result.input_tokens)

    def close(self) -> None:
        self._client.close()

    def _map_error(self, exc: anthropic.AnthropicError) -> ModelError:
        if self.bedrock is not None and isinstance(exc, anthropic.APIStatusError):
            explained = explain_bedrock_error(
                exc, target=self.bedrock.model, region=self.bedrock.region
            )
            if explained is not None:
                return explained
        return map_sdk_error(exc)


@dataclass(frozen=True)
class BedrockTarget:
    """Where a Bedrock provider sends: the integration and id, the region, its counters."""

    model: BedrockModel
    region: str
    counters: BedrockCounters


def _block_data(block: Any) -> dict[str, Any]:
    """A reply content block as plain data: text, tool_use (id, name, input), or its type."""
    kind = str(getattr(block, "type", ""))
    if kind == "text":
        return {"type": "text", "text": str(block.text)}
    if kind == "tool_use":
        raw = getattr(block, "input", None)
        return {
            "type": "tool_use",
            "id": str(block.id),
            "name": str(block.name),
            "input": raw if isinstance(raw, dict) else {},
        }
    return {"type": kind}


def requested_ttl(request: ModelRequest) -> str | None:
    """The TTL of the request's last cache breakpoint, if it has any."""
    blocks = [
        *(request.tools or ()),
        *request.system,
        *(b for m in request.messages for b in m["content"]),
    ]
    for block in reversed(blocks):
        control = block.get("cache_control") if isinstance(block, dict) else None
        if isinstance(control, dict):
            return str(control.get("ttl", "5m"))
    return None


def map_sdk_error(exc: anthropic.AnthropicError) -> ModelError:
    """The typed ``k8s_monitor`` error for an SDK error (see the module docstring)."""
    request_id = getattr(exc, "request_id", None)
    name = type(exc).__name__
    if isinstance(exc, anthropic.APIStatusError):
        return _map_status_error(exc, name, request_id)
    if isinstance(exc, anthropic.APIConnectionError):  # timeouts included
        return ModelRetryableError(f"{name}: no answer from the API", request_id=request_id)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return ModelAnswerError(f"{name}: response did not match the API schema")
    return ModelFatalError(f"{name}: the client could not be used")


def _map_status_error(
    exc: anthropic.APIStatusError, name: str, request_id: str | None
) -> ModelError:
    code = exc.error_code
    detail = f"{name} (status {exc.status_code}, type {exc.type}, code {code})"
    if code in SPEND_LIMIT_CODES:
        return ModelFatalError(f"spend limit reached: {detail}", request_id=request_id)
    if isinstance(
        exc,
        anthropic.AuthenticationError
        | anthropic.PermissionDeniedError
        | anthropic.PaymentRequiredError
        | anthropic.NotFoundError,
    ):
        return ModelFatalError(detail, request_id=request_id)
    if isinstance(exc, anthropic.ContentTooLargeError) or code in CONTEXT_CODES:
        return ContextTooLongError(detail, request_id=request_id)
    if isinstance(exc, anthropic.RateLimitError | anthropic.InternalServerError) or (
        exc.status_code in (408, 409)
    ):
        return ModelRetryableError(detail, request_id=request_id)
    return ModelRequestError(detail, request_id=request_id)


def spend_limit_guard(
    request: anthropic.APIRequest, call_next: anthropic.CallNext
) -> anthropic.APIResponse[Any]:
    """Stop the SDK's retry loop on a spend-limit 429: retrying cannot succeed and adds load."""
    response = call_next(request)
    if response.status_code != 429:
        return response
    code = _error_code(response)
    if code in SPEND_LIMIT_CODES:
        raise ModelFatalError(
            f"spend limit reached: RateLimitError (status 429, code {code})",
            request_id=response.headers.get("request-id"),
        )
    return response


def _error_code(response: anthropic.APIResponse[Any]) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    details = error.get("details") if isinstance(error, dict) else None
    code = details.get("error_code") if isinstance(details, dict) else None
    return code if isinstance(code, str) else None


def count_fn_for(
    provider: ModelProvider, redact: Callable[[str], str]
) -> Callable[[str | None, list[dict[str, Any]]], int]:
    """``count_tokens`` in the session token counter's shape: ``(system, messages) -> int``.

    Raises ``ModelRetryableError`` when the API cannot count, so the counter falls back to its
    estimate; messages are normalised first, as a real request would be.
    """

    def count(system: str | None, messages: list[dict[str, Any]]) -> int:
        history = list(messages)
        if history and history[-1].get("role") == "assistant":
            # The API counts requests, and a request may not end with the assistant.
            history.append({"role": "user", "content": "."})
        request = build_request(
            history,
            max_tokens=1,
            output_schema=None,
            cache_ttl=None,
            redact=redact,
            system_prompt=system,
        )
        tokens = provider.count_tokens(request)
        if tokens is None:
            raise ModelRetryableError("count_tokens unavailable")
        return tokens

    return count


def build_provider(settings: Settings) -> ModelProvider | None:
    """The configured provider, or ``None`` for offline (``auto`` without a key)."""
    provider = settings.resolved_provider
    if provider is LLMProvider.OFFLINE:
        return None
    common: dict[str, Any] = {
        "max_retries": settings.llm_max_retries,
        "timeout": settings.llm_timeout_seconds,
        "middleware": [spend_limit_guard],
    }
    if provider is LLMProvider.BEDROCK:
        return _bedrock_provider(settings, common)
    if settings.anthropic_api_key is None:
        raise ConfigurationError("ANTHROPIC_API_KEY", "required by LLM_PROVIDER=anthropic")
    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        **common,
    )
    window = price_table_for(settings).price(settings.anthropic_model).context_window
    return AnthropicProvider(
        client, model=settings.anthropic_model, name="anthropic", context_window=window
    )


def _bedrock_provider(settings: Settings, common: dict[str, Any]) -> ModelProvider:
    """Checked before the first cycle: region, the id's form, credentials (exit 2 if not)."""
    region = settings.aws_region
    if not region:
        raise ConfigurationError("AWS_REGION", "required by LLM_PROVIDER=bedrock (e.g. us-east-1)")
    try:
        target = resolve_bedrock_model(settings.anthropic_model, settings.bedrock_api, region)
    except ModelIdError as exc:
        raise ConfigurationError("ANTHROPIC_MODEL", str(exc)) from exc
    key_file = settings.bedrock_api_key_file
    api_key = read_secret_file(key_file) if key_file is not None else None
    counters = BedrockCounters()
    try:
        client = build_bedrock_client(
            target,
            region=region,
            endpoint=settings.anthropic_base_url,
            api_key=api_key,
            counters=counters,
            common=common,
        )
    except MissingCredentialsError as exc:
        raise ConfigurationError(
            "AWS credentials",
            f"{exc}: on EKS annotate the ServiceAccount with eks.amazonaws.com/role-arn (IRSA "
            "sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE) or use Pod Identity; elsewhere "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE; or set "
            "BEDROCK_API_KEY_FILE",
        ) from exc
    except (ImportError, anthropic.AnthropicError, ValueError) as exc:
        raise ConfigurationError(
            "LLM_PROVIDER",
            f"bedrock client unavailable ({type(exc).__name__}); install k8s-monitor[bedrock]",
        ) from exc
    log.info(
        "bedrock_provider",
        api=target.api.value,
        model=target.model_id,
        mapped=not target.written_in_full,
        region=region,
        auth="api_key" if api_key is not None else "aws_chain",
    )
    window = price_table_for(settings).price(settings.anthropic_model).context_window
    return AnthropicProvider(
        client,
        model=target.model_id,
        name="bedrock",
        context_window=window,
        bedrock=BedrockTarget(target, region, counters),
    )
