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

import importlib
import time
from collections.abc import Callable
from typing import Any

import structlog

from k8s_monitor.config import LLMProvider, Settings
from k8s_monitor.errors import (
    ConfigurationError,
    ContextTooLongError,
    ModelAnswerError,
    ModelError,
    ModelFatalError,
    ModelRequestError,
    ModelRetryableError,
)
from k8s_monitor.llm.accounting import load_price_table, usage_from_api
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
_STATUS_PREFIX_BEDROCK = "anthropic."


class AnthropicProvider:
    """Calls ``messages.create`` with structured output on an ``Anthropic``-style client."""

    def __init__(
        self,
        client: anthropic.Anthropic | anthropic.AnthropicBedrock,
        *,
        model: str,
        name: str,
        context_window: int | None = None,
    ) -> None:
        self._client = client
        self.model = model
        self.name = name
        self.context_window = context_window or load_price_table().price(model).context_window
        # Bedrock signs each request with the AWS chain (boto3): its failures are not SDK errors.
        self._signing_errors = (
            _aws_errors() if isinstance(client, anthropic.AnthropicBedrock) else ()
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
        try:
            message = self._client.messages.create(**kwargs)
        except ModelError:
            raise
        except anthropic.AnthropicError as exc:
            raise map_sdk_error(exc) from exc
        except ValueError as exc:  # a 2xx body that is not JSON
            raise ModelAnswerError(f"unreadable response body: {type(exc).__name__}") from exc
        except self._signing_errors as exc:
            raise ModelFatalError(f"AWS credentials unusable: {type(exc).__name__}") from exc
        if not isinstance(getattr(message, "content", None), list):
            # A proxy or gateway answering 200 with a page of its own (HTML, a login form): the
            # SDK hands back the raw text instead of a message.
            raise ModelAnswerError(f"unreadable response body: {type(message).__name__}")
        text = "".join(block.text for block in message.content if block.type == "text")
        return ModelReply(
            text=text,
            usage=usage_from_api(message.usage, requested_ttl=requested_ttl(request)),
            model=message.model or self.model,
            stop_reason=message.stop_reason,
            request_id=getattr(message, "_request_id", None),
            latency_seconds=time.perf_counter() - started,
        )

    def count_tokens(self, request: ModelRequest) -> int | None:
        try:
            kwargs: dict[str, Any] = {
                "model": self.model,
                "system": request.system,
                "messages": request.messages,
            }
            result = self._client.messages.count_tokens(**kwargs)
        except (anthropic.AnthropicError, ModelError, ValueError) as exc:
            log.info("count_tokens_unavailable", error_type=type(exc).__name__)
            return None
        return int(result.input_tokens)

    def close(self) -> None:
        self._client.close()


def _aws_errors() -> tuple[type[BaseException], ...]:
    """What signing a Bedrock request can raise: no boto3, no credentials, botocore errors."""
    errors: list[type[BaseException]] = [ImportError, RuntimeError]
    try:
        botocore = importlib.import_module("botocore.exceptions")
    except ImportError:
        return tuple(errors)
    errors.extend([botocore.BotoCoreError, botocore.ClientError])
    return tuple(errors)


def requested_ttl(request: ModelRequest) -> str | None:
    """The TTL of the request's last cache breakpoint, if it has any."""
    blocks = [*request.system, *(b for m in request.messages for b in m["content"])]
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
        history = [{"role": "system", "content": system}] if system else []
        history.extend(messages)
        if history and history[-1].get("role") == "assistant":
            # The API counts requests, and a request may not end with the assistant.
            history.append({"role": "user", "content": "."})
        request = build_request(
            history, max_tokens=1, output_schema=None, cache_ttl=None, redact=redact
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
    return AnthropicProvider(client, model=settings.anthropic_model, name="anthropic")


def _bedrock_provider(settings: Settings, common: dict[str, Any]) -> ModelProvider:
    # No key: the standard AWS chain (IRSA / Pod Identity web identity, instance role) signs.
    if not settings.aws_region:
        raise ConfigurationError("AWS_REGION", "required by LLM_PROVIDER=bedrock")
    model = settings.anthropic_model
    if not model.startswith(_STATUS_PREFIX_BEDROCK) and "." not in model.split("-", 1)[0]:
        model = _STATUS_PREFIX_BEDROCK + model
    try:
        client = anthropic.AnthropicBedrock(
            aws_region=settings.aws_region, base_url=settings.anthropic_base_url, **common
        )
    except (ImportError, anthropic.AnthropicError) as exc:
        raise ConfigurationError(
            "LLM_PROVIDER", f"bedrock client unavailable ({type(exc).__name__}); install boto3"
        ) from exc
    return AnthropicProvider(client, model=model, name="bedrock")
