"""Amazon Bedrock: the SDK client for the chosen integration, AWS signing, Bedrock's errors.

Requests are built by the SDK exactly as for Anthropic's API (``messages.create`` with the same
arguments); only the transport differs:

- **messages**: ``AnthropicBedrockMantle``, ``POST {endpoint}/anthropic/v1/messages`` (and
  ``/count_tokens``), ``anthropic-version`` header, SigV4 for the ``bedrock-mantle`` service;
- **invoke**: ``AnthropicBedrock``, ``POST {endpoint}/model/{id}/invoke``, the model in the path
  and ``anthropic_version`` in the body, SigV4 for ``bedrock``. No count endpoint: the token
  counter estimates.

Signing uses the default AWS credential chain through botocore (IRSA's web identity token in the
pod, Pod Identity, environment keys, profiles). botocore refreshes expiring credentials itself,
re-reading the rotated token file; when Bedrock still answers ``ExpiredTokenException`` the chain
is resolved again and the request sent once more. A Bedrock API key read from a file replaces
signing with ``Authorization: Bearer``.

Bedrock reports errors as ``x-amzn-ErrorType`` plus ``{"message": ...}``. The type decides; for
``ValidationException``, which covers both a malformed body and a model id Bedrock will not
serve, the message is read for those two id cases, since Bedrock gives them no code of their own.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

import httpx2
import structlog

from k8s_monitor.config import BedrockApi
from k8s_monitor.errors import ModelError, ModelFatalError, ModelRetryableError
from k8s_monitor.llm.bedrock_ids import BedrockModel, base_model
from k8s_monitor.llm.sdk import anthropic

log = structlog.get_logger(__name__)

INVOKE_ANTHROPIC_VERSION = "bedrock-2023-05-31"  # the value Bedrock documents for InvokeModel
SERVICE = {BedrockApi.MESSAGES: "bedrock-mantle", BedrockApi.INVOKE: "bedrock"}
IAM_ACTION = {
    BedrockApi.MESSAGES: "bedrock-mantle:CreateInference",
    BedrockApi.INVOKE: "bedrock:InvokeModel",
}
THROTTLING = frozenset({"ThrottlingException", "ServiceQuotaExceededException"})
EXPIRED = frozenset({"ExpiredTokenException", "ExpiredToken"})
CREDENTIALS = frozenset(
    {"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature"}
)
TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)


class MissingCredentialsError(Exception):
    """The default AWS chain found no credentials."""


@dataclass
class BedrockCounters:
    """What the AWS side did to our requests, for logs and tests."""

    throttled: int = 0  # ThrottlingException answers (each retried by the SDK with backoff)
    credential_refreshes: int = 0  # chain re-resolved after ExpiredTokenException


class AwsChain:
    """Credentials of the default AWS chain (botocore), signing requests for one region."""

    def __init__(self, region: str) -> None:
        # botocore comes with the bedrock extra; without it this raises ImportError.
        self._auth = importlib.import_module("botocore.auth")
        self._awsrequest = importlib.import_module("botocore.awsrequest")
        self._session = importlib.import_module("botocore.session")
        self.region = region
        self._lock = threading.Lock()
        self._credentials = self._resolve()

    def _resolve(self) -> Any:
        # A fresh session walks the whole chain again: env, web identity (IRSA), profiles, ...
        credentials = self._session.Session().get_credentials()
        if credentials is None:
            raise MissingCredentialsError("no credentials in the default AWS chain")
        return credentials

    def refresh(self) -> None:
        with self._lock:
            self._credentials = self._resolve()

    def sign(self, request: httpx2.Request, service: str) -> None:
        """Add SigV4 headers (``Authorization``, ``X-Amz-Date``, session token) in place."""
        body = request.read()
        # A proxy may drop Connection, so it must not be part of the signature.
        headers = {k: v for k, v in request.headers.items() if k.lower() != "connection"}
        aws_request = self._awsrequest.AWSRequest(
            method=request.method, url=str(request.url), headers=headers, data=body
        )
        with self._lock:
            credentials = self._credentials
        # One frozen triple per request: near expiry each attribute read may refresh, and a key
        # from one refresh with the session token of the next is rejected.
        try:
            frozen = credentials.get_frozen_credentials()
        except OSError as exc:  # the web identity token file, read at each refresh
            raise MissingCredentialsError(f"cannot read credentials: {exc.strerror}") from exc
        signer = self._auth.SigV4Auth(frozen, service, self.region)
        signer.add_auth(aws_request)
        signed = aws_request.prepare().headers
        request.headers.update({k: v for k, v in signed.items() if v is not None})


class _MessagesClient(anthropic.AnthropicBedrockMantle):
    """The Messages API on Bedrock, signed by our chain (the SDK's own auth is skipped)."""

    def __init__(self, chain: AwsChain | None, **kwargs: Any) -> None:
        self._chain = chain
        super().__init__(skip_auth=chain is not None, **kwargs)

    def _prepare_request(self, request: httpx2.Request) -> None:
        if self._chain is None:
            super()._prepare_request(request)
            return
        self._chain.sign(request, SERVICE[BedrockApi.MESSAGES])


class _InvokeClient(anthropic.AnthropicBedrock):
    """InvokeModel, signed by our chain (or a Bedrock API key as a bearer token)."""

    def __init__(self, chain: AwsChain | None, **kwargs: Any) -> None:
        self._chain = chain
        super().__init__(**kwargs)

    def _prepare_request(self, request: httpx2.Request) -> None:
        if self._chain is None:
            super()._prepare_request(request)
            return
        self._chain.sign(request, SERVICE[BedrockApi.INVOKE])


BedrockClient = anthropic.AnthropicBedrockMantle | anthropic.AnthropicBedrock


def build_client(
    target: BedrockModel,
    *,
    region: str,
    endpoint: str | None,
    api_key: str | None,
    counters: BedrockCounters,
    common: dict[str, Any],
) -> BedrockClient:
    """The SDK client for ``target``'s integration; raises ``MissingCredentialsError``."""
    chain = None if api_key is not None else AwsChain(region)
    middleware = [*common.get("middleware", ()), _guard(chain, counters)]
    options = {**common, "middleware": middleware, "aws_region": region}
    if api_key is not None:
        options["api_key"] = api_key
    if target.api is BedrockApi.MESSAGES:
        base_url = f"{endpoint.rstrip('/')}/anthropic" if endpoint else None
        return _MessagesClient(chain, base_url=base_url, **options)
    return _InvokeClient(chain, base_url=endpoint, **options)


def request_extras(api: BedrockApi) -> dict[str, Any]:
    """Arguments the integration needs on every call, beyond what Anthropic's API takes."""
    if api is BedrockApi.INVOKE:
        return {"extra_body": {"anthropic_version": INVOKE_ANTHROPIC_VERSION}}
    return {}


def _guard(chain: AwsChain | None, counters: BedrockCounters) -> Any:
    def bedrock_guard(
        request: anthropic.APIRequest, call_next: anthropic.CallNext
    ) -> anthropic.APIResponse[Any]:
        """Count throttling; on expired credentials, resolve the chain again and resend once."""
        response = call_next(request)
        kind = aws_error_type(response.headers, None)
        if kind in THROTTLING:
            counters.throttled += 1
            log.warning("bedrock_throttled", attempt=request.retries_taken + 1)
        if kind in EXPIRED and chain is not None:
            response.http_response.close()
            chain.refresh()
            counters.credential_refreshes += 1
            log.info("bedrock_credentials_refreshed")
            response = call_next(request)
        return response

    return bedrock_guard


def signing_errors() -> tuple[type[BaseException], ...]:
    """What signing can raise: botocore's errors (credential fetch, STS), no credentials."""
    errors: list[type[BaseException]] = [MissingCredentialsError]
    try:
        botocore = importlib.import_module("botocore.exceptions")
    except ImportError:
        return tuple(errors)
    errors.extend([botocore.BotoCoreError, botocore.ClientError])
    return tuple(errors)


def signing_error(exc: BaseException) -> ModelError:
    """A failure to sign: STS or the network unreachable may pass; anything else needs a fix."""
    name = type(exc).__name__
    botocore = importlib.import_module("botocore.exceptions")
    if isinstance(exc, botocore.ConnectionError | botocore.HTTPClientError):
        return ModelRetryableError(f"AWS credentials could not be fetched: {name}")
    return ModelFatalError(
        f"AWS credentials unusable: {name}: check the pod's IAM role (IRSA trust policy, "
        "AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) or the keys in use"
    )


def aws_error_type(headers: Any, body: Any) -> str | None:
    """``x-amzn-ErrorType`` (``AccessDeniedException:http://...`` -> the name), or ``__type``."""
    value = headers.get("x-amzn-errortype") if headers is not None else None
    if not value and isinstance(body, dict):
        value = body.get("__type")
    if not value:
        return None
    return str(value).split(":", 1)[0].rsplit("#", 1)[-1]


def explain(
    exc: anthropic.APIStatusError, *, target: BedrockModel, region: str
) -> ModelError | None:
    """A Bedrock error that needs a change by the user, said so; ``None``: the generic mapping."""
    body = exc.body if isinstance(exc.body, dict) else None
    kind = aws_error_type(exc.response.headers, body)
    if kind is None:
        return None
    message = str((body or {}).get("message") or (body or {}).get("Message") or "")
    request_id = exc.response.headers.get("x-amzn-requestid")
    detail = f"{kind} (status {exc.status_code}): {message}"
    model = target.model_id
    if kind == "AccessDeniedException":
        return ModelFatalError(
            f"no access to {model} in {region}: enable model access to {base_model(model)} in "
            f"the Amazon Bedrock console (Model access, region {region}) and allow "
            f"{IAM_ACTION[target.api]} on it in the pod role's IAM policy. {detail}",
            request_id=request_id,
        )
    if kind == "ValidationException":
        return _validation(message, detail, target, region, request_id)
    if kind == "ResourceNotFoundException":
        return ModelFatalError(
            f"Bedrock does not serve {model} in {region}: check ANTHROPIC_MODEL. {detail}",
            request_id=request_id,
        )
    if kind in EXPIRED:
        # IRSA's next refresh may bring valid ones: fail this cycle, not the provider.
        return ModelRetryableError(
            f"AWS credentials expired ({kind}), also after resolving the credential chain "
            f"again: check the pod's IAM role (IRSA) or the keys in use. {detail}",
            request_id=request_id,
        )
    if kind in CREDENTIALS:
        return ModelFatalError(
            f"AWS credentials rejected ({kind}): check the pod's IAM role (IRSA) or the keys "
            f"in use. {detail}",
            request_id=request_id,
        )
    if kind in THROTTLING or kind in TRANSIENT:
        return ModelRetryableError(detail, request_id=request_id)
    return None


def _validation(
    message: str, detail: str, target: BedrockModel, region: str, request_id: str | None
) -> ModelError | None:
    lowered = message.lower()
    model = target.model_id
    if "inference profile" in lowered or "on-demand throughput" in lowered:
        return ModelFatalError(
            f"{model} cannot be invoked on demand in {region}; it needs an inference profile: "
            f"set ANTHROPIC_MODEL to a profile id such as us.{base_model(model)} or "
            f"global.{base_model(model)}, or use the Messages API (BEDROCK_API=messages with "
            f"anthropic.<model>). {detail}",
            request_id=request_id,
        )
    if "model identifier" in lowered or "model id" in lowered:
        return ModelFatalError(
            f"Bedrock does not know the model id {model} ({target.api.value} integration, "
            f"{region}): check ANTHROPIC_MODEL and BEDROCK_API against the README table. "
            f"{detail}",
            request_id=request_id,
        )
    return None
