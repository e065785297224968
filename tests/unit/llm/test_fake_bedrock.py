"""The Bedrock fake rejects what Bedrock rejects, with Bedrock's status and error type."""

from __future__ import annotations

import json

import httpx2
import pytest

from k8s_monitor.llm.bedrock import AwsChain
from tests.fakes.bedrock_server import FakeBedrock

KEY_ID, SECRET = "AKIAFAKEBEDROCK00002", "fake-secret-for-loopback-only"
MESSAGE = {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with FakeBedrock(credentials={KEY_ID: SECRET}) as server:
        yield server


def _post(fake, path, body, *, service=None, headers=None, region="us-east-1"):
    request = httpx2.Request(
        "POST",
        fake.url + path,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    if service is not None:
        AwsChain(region).sign(request, service)
    with httpx2.Client() as client:
        response = client.send(request)
    kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
    return response.status_code, kind, response.json()


INVOKE_BODY = {**MESSAGE, "anthropic_version": "bedrock-2023-05-31"}
MESSAGES_BODY = {**MESSAGE, "model": "anthropic.claude-haiku-5-5"}
VERSION = {"anthropic-version": "2023-06-01"}


@pytest.mark.parametrize(
    ("path", "body", "service", "headers", "expected"),
    [
        ("/model/us.anthropic.claude-haiku-5-5/invoke", INVOKE_BODY, "bedrock", {}, (200, "")),
        ("/anthropic/v1/messages", MESSAGES_BODY, "bedrock-mantle", VERSION, (200, "")),
        # unsigned, or signed for the other service
        (
            "/model/us.anthropic.claude-haiku-5-5/invoke",
            INVOKE_BODY,
            None,
            {},
            (403, "MissingAuthenticationToken"),
        ),
        (
            "/anthropic/v1/messages",
            MESSAGES_BODY,
            "bedrock",
            VERSION,
            (403, "InvalidSignatureException"),
        ),
        # InvokeModel: the version in the body, the model only in the path
        (
            "/model/us.anthropic.claude-haiku-5-5/invoke",
            MESSAGE,
            "bedrock",
            {},
            (400, "ValidationException"),
        ),
        (
            "/model/us.anthropic.claude-haiku-5-5/invoke",
            {**INVOKE_BODY, "model": "x"},
            "bedrock",
            {},
            (400, "ValidationException"),
        ),
        # Messages API: the version header, and ids without profile or version
        (
            "/anthropic/v1/messages",
            MESSAGES_BODY,
            "bedrock-mantle",
            {},
            (400, "ValidationException"),
        ),
        (
            "/anthropic/v1/messages",
            {**MESSAGE, "model": "us.anthropic.claude-haiku-5-5"},
            "bedrock-mantle",
            VERSION,
            (400, "ValidationException"),
        ),
        # the request body is still checked like Anthropic's API does
        (
            "/anthropic/v1/messages",
            {**MESSAGES_BODY, "messages": [{"role": "system", "content": "x"}]},
            "bedrock-mantle",
            VERSION,
            (400, "ValidationException"),
        ),
    ],
)
def test_routes_accept_and_reject_like_bedrock(fake, path, body, service, headers, expected):
    status, kind, answer = _post(fake, path, body, service=service, headers=headers)
    assert (status, kind) == expected, answer
    if status != 200:
        assert set(answer) == {"message"}


def test_signature_scoped_to_another_region_is_refused(fake):
    status, kind, _ = _post(
        fake,
        "/anthropic/v1/messages",
        MESSAGES_BODY,
        service="bedrock-mantle",
        headers=VERSION,
        region="eu-west-1",
    )
    assert (status, kind) == (403, "InvalidSignatureException")


def test_a_body_changed_after_signing_is_refused(fake):
    request = httpx2.Request(
        "POST",
        fake.url + "/anthropic/v1/messages",
        content=json.dumps(MESSAGES_BODY).encode(),
        headers={"content-type": "application/json", **VERSION},
    )
    AwsChain("us-east-1").sign(request, "bedrock-mantle")
    tampered = json.dumps({**MESSAGES_BODY, "max_tokens": 17}).encode()
    forged = httpx2.Request("POST", request.url, content=tampered, headers=request.headers)
    with httpx2.Client() as client:
        response = client.send(forged)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
