"""Provider error mapping and client behaviour, through the real SDK against the fake."""

from __future__ import annotations

import anthropic
import pytest

from k8s_monitor.config import Settings
from k8s_monitor.converse.answer import ANALYSIS_SCHEMA
from k8s_monitor.converse.prompts import SYSTEM_PROMPT
from k8s_monitor.errors import (
    ConfigurationError,
    ContextTooLongError,
    ModelAnswerError,
    ModelFatalError,
    ModelRequestError,
    ModelRetryableError,
)
from k8s_monitor.llm.providers import AnthropicProvider, build_provider, spend_limit_guard
from k8s_monitor.llm.wire import build_request
from tests.fakes.anthropic_server import FakeAnthropic, Fault


@pytest.fixture
def fake():
    server = FakeAnthropic().serve()
    yield server
    server.close()


def _provider(fake, *, key="test-key", retries=0, timeout=2.0):
    client = anthropic.Anthropic(
        api_key=key,
        base_url=fake.url,
        max_retries=retries,
        timeout=timeout,
        middleware=[spend_limit_guard],
    )
    return AnthropicProvider(client, model="claude-haiku-5-5", name="anthropic")


def _request(text="<cycle>hello</cycle>"):
    return build_request(
        [{"role": "user", "content": text}],
        max_tokens=200,
        output_schema=ANALYSIS_SCHEMA,
        cache_ttl="5m",
        redact=lambda t: t,
        system_prompt=SYSTEM_PROMPT,
    )


def test_complete_returns_text_usage_and_request_id(fake):
    reply = _provider(fake).complete(_request())
    assert reply.stop_reason == "end_turn"
    assert reply.request_id.startswith("req_fake")
    assert reply.usage.requests == 1 and reply.usage.output_tokens > 0
    body = fake.bodies()[0]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert fake.records[0].headers["authorization"] == "Bearer test-key"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("rate_limit", ModelRetryableError),
        ("overloaded", ModelRetryableError),
        ("server_error", ModelRetryableError),
        ("reset", ModelRetryableError),
        ("spend_limit", ModelFatalError),
        ("bad_request", ModelRequestError),
        ("malformed", ModelAnswerError),
    ],
)
def test_faults_map_to_typed_errors(fake, fault, error):
    fake.inject(Fault(fault))
    with pytest.raises(error) as caught:
        _provider(fake).complete(_request())
    assert type(caught.value) is error  # not a subclass: e.g. a 400 is not "context too long"


def test_timeout_is_retryable(fake):
    fake.inject(Fault("slow", delay_seconds=0.6))
    with pytest.raises(ModelRetryableError):
        _provider(fake, timeout=0.2).complete(_request())


def test_wrong_key_is_fatal(fake):
    with pytest.raises(ModelFatalError):
        _provider(fake, key="wrong").complete(_request())


def test_too_long_prompt_is_a_request_error_without_a_code(fake):
    fake.context_window = 50
    with pytest.raises(ModelRequestError):
        _provider(fake).complete(_request("x" * 1_000))


def test_content_too_large_maps_to_context_too_long():
    import httpx2

    from k8s_monitor.llm.providers import map_sdk_error

    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(
        413,
        request=request,
        json={"type": "error", "error": {"type": "request_too_large", "message": "m"}},
    )
    exc = anthropic.ContentTooLargeError("m", response=response, body=response.json())
    assert isinstance(map_sdk_error(exc), ContextTooLongError)


def test_spend_limit_stops_sdk_retries(fake):
    fake.inject(Fault("spend_limit", count=3))
    with pytest.raises(ModelFatalError):
        _provider(fake, retries=2).complete(_request())
    assert len(fake.bodies()) == 1


def test_count_tokens(fake):
    assert _provider(fake).count_tokens(_request()) > 0


def test_build_provider_picks_by_settings(tmp_path, fake):
    offline = Settings(_env_file=None, llm_provider="auto")
    assert build_provider(offline) is None
    online = Settings(
        _env_file=None,
        llm_provider="auto",
        anthropic_api_key="test-key",
        anthropic_base_url=fake.url,
    )
    provider = build_provider(online)
    assert provider is not None and provider.name == "anthropic"
    provider.complete(_request())
    provider.close()
    with pytest.raises(ConfigurationError):
        build_provider(Settings(_env_file=None, llm_provider="bedrock"))
