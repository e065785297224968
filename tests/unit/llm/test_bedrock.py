"""LLM_PROVIDER=bedrock through the real SDK and botocore against the loopback Bedrock fake.

Credentials come from the environment (static keys, or IRSA's web identity against the fake's
STS); the conftest disables the instance-metadata lookup, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket

import pytest

from k8s_monitor.config import Settings
from k8s_monitor.errors import ConfigurationError, ModelFatalError, ModelRetryableError
from k8s_monitor.llm.accounting import load_price_table
from k8s_monitor.llm.providers import build_provider
from k8s_monitor.llm.wire import build_request
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.bedrock_server import FakeBedrock

KEY_ID, SECRET = "AKIAFAKEBEDROCK00001", "fake-secret-for-loopback-only"
API_KEY = "bedrock-api-key-fake-0001"
SCHEMA = {
    "type": "object",
    "properties": {"overall_health": {"type": "string"}},
    "required": ["overall_health"],
    "additionalProperties": False,
}
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(\w+)/\d{8}/us-east-1/([a-z-]+)/aws4_request, "
    r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$"
)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection these tests open (Bedrock, STS, metadata) must go to 127.0.0.1."""
    peers = []
    connect = socket.socket.connect

    def recording(self, address):
        peers.append(address)
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    yield
    assert all(peer[0] == "127.0.0.1" for peer in peers if isinstance(peer, tuple)), peers


@pytest.fixture
def static_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)


@pytest.fixture
def fake():
    # Bedrock serves a dated model the shipped price table lacks (priced by the override below).
    table = load_price_table().models
    models = {**table, "claude-sonnet-4-5-20250929": table["claude-sonnet-5-5"]}
    model = FakeAnthropic(api_key=None, min_cacheable_tokens=16, models=models)
    with FakeBedrock(credentials={KEY_ID: SECRET}, api_key=API_KEY, model=model) as server:
        yield server


_PRICE_OVERRIDE = (
    '{"input": 3.0, "output": 15.0, "context_window": 200000, "min_cacheable_tokens": 1024}'
)


def _settings(fake, **extra):
    values = {
        "llm_provider": "bedrock",
        "aws_region": "us-east-1",
        "anthropic_base_url": fake.url,
        "llm_max_retries": 0,
        "llm_timeout_seconds": 5.0,
        **extra,
    }
    return Settings(_env_file=None, **values)


def _request(history=None, schema=SCHEMA):
    return build_request(
        history or [{"role": "user", "content": "<cycle>hello from the cluster</cycle>"}],
        max_tokens=200,
        output_schema=schema,
        cache_ttl="5m",
        redact=lambda t: t,
        system_prompt="You watch a Kubernetes cluster.",
    )


def _scope(record):
    match = SIGV4.match(record.headers["authorization"])
    assert match is not None, record.headers["authorization"]
    return match.group(1), match.group(2)


# --- the two routes ----------------------------------------------------------------------------


@pytest.mark.usefixtures("static_keys")
def test_default_model_goes_to_the_messages_api_signed_for_bedrock_mantle(fake):
    provider = build_provider(_settings(fake))
    reply = provider.complete(_request())
    assert json.loads(reply.text)["overall_health"] in {"healthy", "degraded", "critical"}
    record = fake.records[-1]
    assert record.path == "/anthropic/v1/messages"
    assert _scope(record) == (KEY_ID, "bedrock-mantle")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record.headers["anthropic-version"])
    assert record.body["model"] == "anthropic.claude-haiku-5-5"
    assert "anthropic_version" not in record.body
    assert record.body["output_config"]["format"]["schema"] == SCHEMA  # structured output
    # The Messages API on Bedrock counts tokens exactly, as Anthropic's does.
    counted = provider.count_tokens(_request())
    assert fake.records[-1].path == "/anthropic/v1/messages/count_tokens"
    assert 0 < counted <= reply.prompt_tokens  # the count is sent without the output schema
    provider.close()


@pytest.mark.usefixtures("static_keys")
def test_invoke_sends_the_profile_id_in_the_path_and_the_version_in_the_body(fake):
    provider = build_provider(_settings(fake, bedrock_api="invoke"))
    assert provider.model == "us.anthropic.claude-haiku-5-5"
    reply = provider.complete(_request())
    assert reply.usage.requests == 1
    record = fake.records[-1]
    assert record.path == "/model/us.anthropic.claude-haiku-5-5/invoke"
    assert _scope(record) == (KEY_ID, "bedrock")
    assert record.body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in record.body
    assert record.body["output_config"]["format"]["type"] == "json_schema"
    # InvokeModel has no count endpoint: no request, the counter estimates.
    before = len(fake.records)
    assert provider.count_tokens(_request()) is None
    assert len(fake.records) == before


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize(
    ("model", "path"),
    [
        (
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-opus-5-5",
            "/model/arn:aws:bedrock:us-east-1:111122223333:inference-profile%2Fglobal.anthropic"
            ".claude-opus-5-5/invoke",
        ),
    ],
)
def test_ids_written_in_full_reach_invoke_unchanged(fake, model, path):
    # A dated id the price table lacks is priced by the override, as a user would.
    provider = build_provider(
        _settings(fake, anthropic_model=model, model_price_override=_PRICE_OVERRIDE)
    )
    assert provider.model == model
    provider.complete(_request())
    assert fake.records[-1].path == path and fake.records[-1].status == 200


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize("api", ["messages", "invoke"])
def test_prompt_cache_is_read_on_the_second_request(fake, api):
    provider = build_provider(_settings(fake, bedrock_api=api))
    first_text = "<cycle n=1>" + "pod web-1 CrashLoopBackOff restarts=9\n" * 40 + "</cycle>"
    history = [{"role": "user", "content": first_text}]
    first = provider.complete(_request(history))
    assert first.usage.cache_write_5m_tokens > 0 and first.usage.cache_read_tokens == 0
    history += [
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "<cycle n=2>nothing changed</cycle>"},
    ]
    second = provider.complete(_request(history))
    assert second.usage.cache_read_tokens >= first.usage.cache_write_5m_tokens


# --- authentication ----------------------------------------------------------------------------


def test_a_wrong_secret_fails_the_signature_check(fake, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    provider = build_provider(_settings(fake))
    with pytest.raises(ModelFatalError, match="InvalidSignatureException"):
        provider.complete(_request())
    assert fake.stats.errors == {"InvalidSignatureException": 1}


@pytest.mark.parametrize("api", ["messages", "invoke"])
def test_api_key_from_a_file_is_a_bearer_token_and_nothing_is_signed(fake, tmp_path, api):
    key_file = tmp_path / "bedrock-key"
    key_file.write_text(API_KEY + "\n")
    provider = build_provider(_settings(fake, bedrock_api=api, bedrock_api_key_file=key_file))
    provider.complete(_request())
    headers = fake.records[-1].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-amz-date" not in headers


def test_irsa_web_identity_follows_the_rotated_token(fake, tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("projected-sa-token-1")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/k8s-monitor-bedrock")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fake.url)
    # Credentials valid for 5 minutes are inside botocore's refresh window: every use refreshes.
    fake.credential_lifetime_seconds = 300
    provider = build_provider(_settings(fake))
    provider.complete(_request())
    token.write_text("projected-sa-token-2")  # the kubelet rotates the projected token
    provider.complete(_request())
    assert fake.stats.sts_tokens[0] == "projected-sa-token-1"
    assert fake.stats.sts_tokens[-1] == "projected-sa-token-2"
    keys = [_scope(r)[0] for r in fake.records]
    assert keys[0] != keys[-1] and all(k.startswith("ASIA") for k in keys)


def test_expired_credentials_are_refreshed_from_the_chain_and_the_request_resent(
    fake, tmp_path, monkeypatch
):
    token = tmp_path / "token"
    token.write_text("projected-sa-token")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/k8s-monitor-bedrock")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", fake.url)
    provider = build_provider(_settings(fake))
    provider.complete(_request())
    first_key = _scope(fake.records[-1])[0]
    fake.expire(first_key)  # AWS revoked or expired it before botocore's clock said so
    reply = provider.complete(_request())
    assert reply.usage.requests == 1
    assert fake.stats.errors == {"ExpiredTokenException": 1}
    assert _scope(fake.records[-1])[0] != first_key
    assert provider.bedrock.counters.credential_refreshes == 1


@pytest.mark.usefixtures("static_keys")
def test_expired_static_keys_fail_one_cycle_naming_the_credentials(fake):
    fake.expire(KEY_ID)
    provider = build_provider(_settings(fake))
    with pytest.raises(ModelRetryableError, match=r"ExpiredTokenException.*credential chain again"):
        provider.complete(_request())
    assert provider.bedrock.counters.credential_refreshes == 1


# --- Bedrock's errors --------------------------------------------------------------------------


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize(
    ("api", "action"),
    [("messages", "bedrock-mantle:CreateInference"), ("invoke", "bedrock:InvokeModel")],
)
def test_access_denied_says_which_model_to_enable_and_where(fake, api, action):
    fake.denied.add("claude-haiku-5-5")
    provider = build_provider(_settings(fake, bedrock_api=api))
    with pytest.raises(ModelFatalError) as caught:
        provider.complete(_request())
    message = str(caught.value)
    assert "anthropic.claude-haiku-5-5" in message and "Model access" in message
    assert "us-east-1" in message and action in message
    assert fake.records[-1].status == 403


@pytest.mark.usefixtures("static_keys")
def test_unknown_model_id_is_named(fake):
    # Priced by the override (else it stops at start), so the request reaches Bedrock.
    provider = build_provider(
        _settings(
            fake,
            anthropic_model="anthropic.claude-nonesuch-9",
            model_price_override=_PRICE_OVERRIDE,
        )
    )
    with pytest.raises(
        ModelFatalError, match=r"does not know the model id anthropic\.claude-nonesuch-9"
    ):
        provider.complete(_request())


@pytest.mark.usefixtures("static_keys")
def test_on_demand_invoke_of_a_profile_only_model_says_to_use_a_profile(fake):
    provider = build_provider(
        _settings(fake, bedrock_api="invoke", anthropic_model="anthropic.claude-haiku-5-5")
    )
    with pytest.raises(
        ModelFatalError, match=r"needs an inference profile.*us\.anthropic\.claude-haiku-5-5"
    ):
        provider.complete(_request())


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize("api", ["messages", "invoke"])
def test_throttling_is_retried_with_backoff_and_counted(fake, api):
    fake.throttle(2)
    provider = build_provider(_settings(fake, bedrock_api=api, llm_max_retries=2))
    reply = provider.complete(_request())
    assert reply.usage.requests == 1
    assert provider.bedrock.counters.throttled == 2
    assert fake.stats.errors == {"ThrottlingException": 2}
    retry_counts = [r.headers["x-stainless-retry-count"] for r in fake.records]
    assert retry_counts == ["0", "1", "2"]


@pytest.mark.usefixtures("static_keys")
def test_throttling_beyond_the_retries_fails_one_cycle_as_retryable(fake):
    fake.throttle(3)
    provider = build_provider(_settings(fake, llm_max_retries=1))
    with pytest.raises(ModelRetryableError, match="ThrottlingException"):
        provider.complete(_request())
    assert provider.bedrock.counters.throttled == 2


# --- start-up: bad input stops the program before the first cycle -------------------------------


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        ({"aws_region": None}, "AWS_REGION"),
        (
            {"bedrock_api": "messages", "anthropic_model": "us.anthropic.claude-haiku-5-5"},
            "ANTHROPIC_MODEL",
        ),
        (
            {
                "bedrock_api": "messages",
                "anthropic_model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
            },
            "ANTHROPIC_MODEL",
        ),
        ({"anthropic_model": "gpt-4o"}, "ANTHROPIC_MODEL"),
    ],
)
def test_bad_bedrock_settings_are_configuration_errors(fake, extra, setting):
    with pytest.raises(ConfigurationError) as caught:
        build_provider(_settings(fake, **extra))
    assert caught.value.setting == setting
    assert fake.records == []


def test_no_credentials_in_the_chain_is_a_configuration_error(fake):
    with pytest.raises(ConfigurationError) as caught:
        build_provider(_settings(fake))
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in str(caught.value)
    assert "BEDROCK_API_KEY_FILE" in str(caught.value)
    assert fake.records == []


def _irsa(monkeypatch, token_path, sts_url):
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/k8s-monitor-bedrock")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts_url)


def test_sts_unreachable_fails_one_cycle_as_retryable(fake, tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("projected-sa-token")
    _irsa(monkeypatch, token, "http://127.0.0.1:9")  # nothing listens on the discard port
    provider = build_provider(_settings(fake))
    with pytest.raises(ModelRetryableError, match="could not be fetched"):
        provider.complete(_request())
    assert fake.records == []


def test_unreadable_web_identity_token_is_fatal_naming_it(fake, tmp_path, monkeypatch):
    _irsa(monkeypatch, tmp_path / "no-such-token", fake.url)
    provider = build_provider(_settings(fake))
    with pytest.raises(ModelFatalError, match="AWS_WEB_IDENTITY_TOKEN_FILE"):
        provider.complete(_request())
    assert fake.records == []
