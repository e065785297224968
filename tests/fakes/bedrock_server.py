"""A loopback fake of Amazon Bedrock's two Claude routes, and of STS for IRSA, for tests.

The model behind both routes is a ``FakeAnthropic`` (its validation, prompt-cache emulation,
usage accounting and deterministic answers); this module adds what Bedrock does around it:

- ``POST /anthropic/v1/messages`` and ``/anthropic/v1/messages/count_tokens`` (the Messages API
  on Bedrock): the ``anthropic-version`` header is required, ids are ``anthropic.<model>``;
- ``POST /model/{id}/invoke`` (InvokeModel): the id in the path, ``anthropic_version:
  bedrock-2023-05-31`` in the body and no ``model`` there; ids are versioned (``-v1:0``),
  inference profiles (``us.``/``eu.``/``apac.``/``global.`` + id) or ARNs; a model only offered
  through profiles answers the on-demand ``ValidationException``;
- authentication: SigV4 verified in full (credential scope with the route's service and region,
  signed headers, the signature recomputed with the key's secret, the session token), or an API
  key as ``Authorization: Bearer``;
- errors as Bedrock sends them: the status, ``x-amzn-ErrorType``, ``x-amzn-RequestId`` and a
  ``{"message": ...}`` body (``AccessDeniedException``, ``ValidationException``,
  ``ThrottlingException``, ``ExpiredTokenException``, ``UnrecognizedClientException``,
  ``InvalidSignatureException``);
- ``POST /`` with ``Action=AssumeRoleWithWebIdentity``: STS, so botocore's IRSA provider
  (``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``, ``AWS_ENDPOINT_URL_STS``) gets short-lived
  credentials that this fake then accepts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import urllib.parse
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.anthropic_server import ApiError, FakeAnthropic, Recorded
from tests.fakes.loopback import LoopbackServer

INVOKE_VERSION = "bedrock-2023-05-31"
MESSAGES_SERVICE = "bedrock-mantle"
INVOKE_SERVICE = "bedrock"
# Served through the Messages API, and on InvokeModel only through inference profiles.
NEWER_MODELS = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")
# ARN-versioned ids InvokeModel serves on demand.
LEGACY_MODELS = ("claude-sonnet-4-5-20250929-v1:0", "claude-3-5-haiku-20241022-v1:0")
PROFILES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/(?P<service>[a-z-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_INVOKE = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream)$")
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"


class BedrockError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def _validation(message: str) -> BedrockError:
    return BedrockError(400, "ValidationException", message)


@dataclass
class BedrockStats:
    requests: dict[str, int] = field(default_factory=dict)  # by route: messages, count, invoke
    errors: dict[str, int] = field(default_factory=dict)  # by x-amzn-ErrorType
    sts_tokens: list[str] = field(default_factory=list)  # web identity tokens STS was given


class FakeBedrock(LoopbackServer):
    """Bedrock (both routes) and STS on one loopback port, over ``model`` (a FakeAnthropic)."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        credentials: dict[str, str] | None = None,
        api_key: str | None = None,
        model: FakeAnthropic | None = None,
        denied: frozenset[str] = frozenset(),
        credential_lifetime_seconds: float = 3600.0,
    ) -> None:
        self.region = region
        self.secrets: dict[str, str] = dict(credentials or {})  # access key id -> secret
        self.tokens: dict[str, str] = {}  # access key id -> session token it must carry
        self.expired: set[str] = set()
        self.api_key = api_key
        self.model = model or FakeAnthropic(api_key=None)
        self.denied = set(denied)  # base model names without access ("claude-opus-5-5")
        self.credential_lifetime_seconds = credential_lifetime_seconds
        self.stats = BedrockStats()
        self.records: list[Recorded] = []
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # --- control ---------------------------------------------------------------------------

    def throttle(self, count: int = 1) -> None:
        """The next ``count`` model requests answer ``ThrottlingException``."""
        with self._lock:
            self._faults.extend(["ThrottlingException"] * count)

    def expire(self, access_key: str) -> None:
        """Requests signed with ``access_key`` now answer ``ExpiredTokenException``."""
        with self._lock:
            self.expired.add(access_key)

    def routes(self) -> list[str]:
        return [r.path for r in self.records]

    # --- authentication ----------------------------------------------------------------------

    def authenticate(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        """The access key id (or ``"api-key"``) the request proves, or a ``BedrockError``."""
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            if self.api_key is None or authorization[7:].strip() != self.api_key:
                raise BedrockError(403, "AccessDeniedException", "Invalid API Key format.")
            return "api-key"
        match = _AUTH.match(authorization)
        if match is None:
            raise BedrockError(
                403,
                "IncompleteSignatureException" if authorization else "MissingAuthenticationToken",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.",
            )
        service = MESSAGES_SERVICE if path.startswith("/anthropic/") else INVOKE_SERVICE
        self._check_scope(match, headers, service)
        key = match["key"]
        secret = self.secrets.get(key)
        if secret is None:
            raise BedrockError(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        token = headers.get("x-amz-security-token")
        if self.tokens.get(key) != token:
            raise BedrockError(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        expected = _signature(method, path, headers, body, match, Credentials(key, secret, token))
        if expected != match["signature"]:
            raise BedrockError(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        if key in self.expired:
            raise BedrockError(
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            )
        return key

    def _check_scope(self, match: re.Match[str], headers: dict[str, str], service: str) -> None:
        stamp = headers.get("x-amz-date", "")
        if not re.fullmatch(r"\d{8}T\d{6}Z", stamp) or stamp[:8] != match["date"]:
            raise BedrockError(
                403, "IncompleteSignatureException", "X-Amz-Date is missing or not the scope date"
            )
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
            raise BedrockError(
                403, "IncompleteSignatureException", "SignedHeaders must list host and x-amz-date"
            )
        if "x-amz-security-token" in headers and "x-amz-security-token" not in signed:
            raise BedrockError(403, "IncompleteSignatureException", "session token is not signed")
        if match["region"] != self.region or match["service"] != service:
            raise BedrockError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region and service '{service}', "
                f"not '{match['region']}/{match['service']}'.",
            )

    # --- STS -------------------------------------------------------------------------------

    def assume_role_with_web_identity(self, form: dict[str, list[str]]) -> bytes:
        action = (form.get("Action") or [""])[0]
        role = (form.get("RoleArn") or [""])[0]
        token = (form.get("WebIdentityToken") or [""])[0]
        if action != "AssumeRoleWithWebIdentity" or not role.startswith("arn:aws:iam::"):
            raise BedrockError(400, "ValidationError", "unsupported STS call")
        if not token:
            raise BedrockError(400, "InvalidIdentityToken", "empty web identity token")
        number = next(self._ids)
        key, secret, session = (
            f"ASIAFAKESTS{number:09d}",
            f"secret-{uuid.uuid4().hex}",
            f"tok{number}",
        )
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.credential_lifetime_seconds)
        with self._lock:
            self.secrets[key] = secret
            self.tokens[key] = session
            self.stats.sts_tokens.append(token)
        return _sts_response(key, secret, session, expires, role).encode()

    # --- the two routes --------------------------------------------------------------------

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[str, dict[str, Any]]:
        """``(route, answer)`` for an authenticated model request."""
        if path == "/anthropic/v1/messages/count_tokens":
            request = self._messages_body(headers, body)
            return "count", self.model.count_tokens(request)
        if path == "/anthropic/v1/messages":
            request = self._messages_body(headers, body)
            self._fault()
            return "messages", self._answer(request, body["model"])
        invoke = _INVOKE.match(path)
        if invoke is None:
            raise BedrockError(404, "UnknownOperationException", f"no operation at {path}")
        if invoke.group(2) != "invoke":
            raise _validation("this fake serves only InvokeModel, not the streaming variant")
        model_id = urllib.parse.unquote(invoke.group(1))
        request = self._invoke_body(model_id, body)
        self._fault()
        return "invoke", self._answer(request, model_id)

    def _messages_body(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", headers.get("anthropic-version", "")):
            raise _validation("anthropic-version: header is required (e.g. 2023-06-01)")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise _validation("model: Field required")
        model_id = body["model"]
        name = model_id.removeprefix("anthropic.")
        if not model_id.startswith("anthropic.") or name not in NEWER_MODELS:
            raise _validation("The provided model identifier is invalid.")
        self._access(name)
        return {**body, "model": name}

    def _invoke_body(self, model_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _validation("Malformed input request, please reformat your input and try again.")
        if body.get("anthropic_version") != INVOKE_VERSION:
            raise _validation(
                f"Malformed input request: anthropic_version must be {INVOKE_VERSION!r}"
            )
        if "model" in body:
            raise _validation("Malformed input request: extraneous key [model] is not permitted")
        name = _invoke_model_name(model_id)
        self._access(name)
        return {**{k: v for k, v in body.items() if k != "anthropic_version"}, "model": name}

    def _access(self, name: str) -> None:
        if name in self.denied:
            raise BedrockError(
                403,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
            )

    def _fault(self) -> None:
        with self._lock:
            kind = self._faults.popleft() if self._faults else None
        if kind == "ThrottlingException":
            raise BedrockError(429, kind, "Too many requests, please wait before trying again.")

    def _answer(self, request: dict[str, Any], model_id: str) -> dict[str, Any]:
        try:
            message = self.model.messages(request)
        except ApiError as exc:
            with self.model._lock:
                self.model.stats.rejected += 1
            raise BedrockError(exc.status, "ValidationException", exc.message) from exc
        return {**message, "model": model_id}


def _invoke_model_name(model_id: str) -> str:
    """The model an InvokeModel id names, or the ``ValidationException`` Bedrock answers."""
    tail = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:aws:bedrock:") else model_id
    profile, _, rest = tail.partition(".")
    via_profile = profile in PROFILES and rest.startswith("anthropic.")
    base = rest if via_profile else tail
    name = base.removeprefix("anthropic.")
    if not base.startswith("anthropic."):
        raise _validation("The provided model identifier is invalid.")
    if name in LEGACY_MODELS:
        return name.rsplit("-v", 1)[0]
    if name in NEWER_MODELS:
        if not via_profile:
            raise _validation(
                f"Invocation of model ID {base} with on-demand throughput isn't supported. "
                "Retry your request with the ID or ARN of an inference profile that contains "
                "this model."
            )
        return name
    raise _validation("The provided model identifier is invalid.")


def _signature(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    match: re.Match[str],
    credentials: Credentials,
) -> str:
    """The SigV4 signature of the request as received, over the headers it says it signed."""
    signed = {name: headers.get(name, "") for name in match["signed"].split(";")}
    request = AWSRequest(method=method, url=f"http://{headers['host']}{path}", data=body)
    for name, value in signed.items():
        request.headers[name] = value
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(credentials, match["service"], match["region"])
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _sts_response(key: str, secret: str, token: str, expires: dt.datetime, role: str) -> str:
    stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<AssumeRoleWithWebIdentityResult>"
        f"<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
        f"<SessionToken>{token}</SessionToken><Expiration>{stamp}</Expiration></Credentials>"
        "<SubjectFromWebIdentityToken>system:serviceaccount:k8s-monitor:k8s-monitor"
        "</SubjectFromWebIdentityToken>"
        f"<AssumedRoleUser><Arn>{role}/k8s-monitor</Arn><AssumedRoleId>AROAFAKE:k8s-monitor"
        "</AssumedRoleId></AssumedRoleUser><Audience>sts.amazonaws.com</Audience>"
        "</AssumeRoleWithWebIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</AssumeRoleWithWebIdentityResponse>"
    )


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBedrock
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        if path == "/" and headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            self._sts(raw)
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded(self.path, headers, body)
        with fake._lock:
            fake.records.append(record)
        try:
            fake.authenticate("POST", self.path, headers, raw)
            route, answer = fake.handle(path, headers, body)
        except BedrockError as exc:
            with fake._lock:
                fake.stats.errors[exc.kind] = fake.stats.errors.get(exc.kind, 0) + 1
            self._error(exc, record)
            return
        with fake._lock:
            fake.stats.requests[route] = fake.stats.requests.get(route, 0) + 1
        self._send(200, json.dumps(answer).encode(), record, "application/json")

    def _sts(self, raw: bytes) -> None:
        form = urllib.parse.parse_qs(raw.decode())
        try:
            payload = self.fake.assume_role_with_web_identity(form)
        except BedrockError as exc:
            self._send(exc.status, f"<ErrorResponse>{exc.kind}</ErrorResponse>".encode(), None)
            return
        self._send(200, payload, None, "text/xml")

    def _error(self, exc: BedrockError, record: Recorded) -> None:
        payload = json.dumps({"message": exc.message}).encode()
        extra = {"x-amzn-ErrorType": f"{exc.kind}:{_ERROR_NAMESPACE}"}
        self._send(exc.status, payload, record, "application/json", extra)

    def _send(
        self,
        status: int,
        payload: bytes,
        record: Recorded | None,
        content_type: str = "text/xml",
        extra: dict[str, str] | None = None,
    ) -> None:
        if record is not None:
            record.status = status
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


FakeBedrock.handler = _Handler
