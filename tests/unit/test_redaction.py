"""Redaction: a planted corpus of secrets, none may survive; ordinary log lines stay intact."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8s_monitor.config import Settings
from k8s_monitor.redaction import BUILTIN_KINDS, Redactor

# Shapes follow each vendor's documented format; the values are random and belong to nobody.
_PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi7Qz1vM8wz2ZzTQ1xq4uK0m3a\n"
    "Q8m0l7bDk1r7E1s2yQ4ZP1oC0H0bnq9y8m3sDkqZq7xP2dL3fV5vZ0w==\n"
    "-----END RSA PRIVATE KEY-----"
)
_JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9"
    ".eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDptb25pdG9yIn0"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"
)
_AZURE_KEY = "Q" * 40 + "vT9+Xk2mP0rL7wZ3nB5cJ8hF1dS4aG6yE0uI9oK2qR5tW8zA1xC3vN6bM9lp==" + ""

# (kind, text containing the secret, the secret itself)
CORPUS: list[tuple[str, str, str]] = [
    ("aws_access_key", "using key AKIAZ3MHTQ4JXP7W2LNB for s3", "AKIAZ3MHTQ4JXP7W2LNB"),
    (
        "aws_secret_key",
        "aws_secret_access_key = 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",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Rt3nV2e",
    ),
    (
        "github_token",
        "git clone with ghp_R8fK2mQ9xL4vN7pT1wZ6yB3cD5hJ0sG8aE2u",
        "ghp_R8fK2mQ9xL4vN7pT1wZ6yB3cD5hJ0sG8aE2u",
    ),
    ("gitlab_token", "CI token glpat-x7Qm2Kp9Lz4Vn8Rt1Wy6 rejected", "glpat-x7Qm2Kp9Lz4Vn8Rt1Wy6"),
    (
        "slack_token",
        "slack client xoxb-2048193746-8471629350-Kq7Zp2Lm9Xv4Nt8Rw1Yb6Cd",
        "xoxb-2048193746-8471629350-Kq7Zp2Lm9Xv4Nt8Rw1Yb6Cd",
    ),
    (
        "slack_webhook",
        "posting to https://hooks.slack.com/services/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f",
        "T024BE7LD/B08L2KQ9Z/kR9xQ2mZ7vN4pL8tW1yB6cD3f",
    ),
    (
        "anthropic_key",
        "ANTHROPIC client init sk-ant-api03-Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5Fe-AAAA",
        "sk-ant-api03-Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5Fe-AAAA",
    ),
    (
        "openai_key",
        "openai auth sk-proj-Q2w8Er5Ty1Ui7Op3As9Df4Gh6Jk0Lz2Xc8Vb",
        "sk-proj-Q2w8Er5Ty1Ui7Op3As9Df4Gh6Jk0Lz2Xc8Vb",
    ),
    (
        "stripe_key",
        "charging via sk_live_51Hq8Zm2Lx9Kv4Np7Rt1Wy6",
        "sk_live_51Hq8Zm2Lx9Kv4Np7Rt1Wy6",
    ),
    ("jwt", f"validated session {_JWT} ok", _JWT),
    (
        "bearer_token",
        "GET /api Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c",
        "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c",
    ),
    (
        "basic_auth",
        "proxy header Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=",
        "YWRtaW46c3VwZXJzZWNyZXQ=",
    ),
    (
        "url_credentials",
        "fetching https://deploy:Xk92mPq7Lz@registry.example.com/v2/",
        "Xk92mPq7Lz",
    ),
    (
        "database_url",
        "DATABASE_URL postgres://app:Pg5ecr3tPw@db.prod:5432/orders",
        "Pg5ecr3tPw",
    ),
    (
        "private_key",
        f"key file:\n{_PEM}\nend",
        "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi7Qz1vM8wz2ZzTQ1xq4uK0m3a",
    ),
    ("password", "login failed: user=admin password=Hunter2Hunter2 retrying", "Hunter2Hunter2"),
    ("secret", "--client-secret=9aZk2LmQ7xVn4RtW", "9aZk2LmQ7xVn4RtW"),
    ("token", "export GITHUB_ACTIONS_TOKEN='q8W2e4R6t8Y0u2I4'", "q8W2e4R6t8Y0u2I4"),
    ("api_key", 'config {"api_key": "k3y-Val-9182736450"}', "k3y-Val-9182736450"),
    ("password", "db:\n  password: S3cr3tPassw0rd!\n  user: app", "S3cr3tPassw0rd!"),
    (
        "gcp_service_account",
        '{"type": "service_account", "private_key_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"}',
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    ),
    (
        "gcp_api_key",
        "maps key AIzaSyD8k2Lm9Xq4Vn7Rt1Wy6Bc3Dh5Jk0Gs8Fe",
        "AIzaSyD8k2Lm9Xq4Vn7Rt1Wy6Bc3Dh5Jk0Gs8Fe",
    ),
    (
        "azure_storage_key",
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={_AZURE_KEY};EndpointSuffix=x",
        _AZURE_KEY,
    ),
    (
        "azure_sas_token",
        "GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=Zk8%2BmQ2xL9vN4pT7wR1yB6cD3hJ0sG5aE%3D",
        "Zk8%2BmQ2xL9vN4pT7wR1yB6cD3hJ0sG5aE%3D",
    ),
    (
        "npm_token",
        "//registry.npmjs.org/:_authToken npm_Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5FeA1b2",
        "npm_Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5FeA1b2",
    ),
    (
        "huggingface_token",
        "hub login hf_Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5FeAb",
        "hf_Zq8Lm2Xv9Np4Rt7Wy1Bc6Dh3Jk0Gs5FeAb",
    ),
    (
        "sendgrid_key",
        "mailer SG.Zq8Lm2Xv9Np4Rt7Wy1Bc6D.h3Jk0Gs5FeAb2Cd4Ef6Gh8Ij0Kl2Mn4Op6Qr8St0Uv2Wx",
        "SG.Zq8Lm2Xv9Np4Rt7Wy1Bc6D.h3Jk0Gs5FeAb2Cd4Ef6Gh8Ij0Kl2Mn4Op6Qr8St0Uv2Wx",
    ),
    (
        "docker_auth",
        '{"auths": {"ghcr.io": {"auth": "dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM="}}}',
        "dXNlcjpnaHBfc2VjcmV0dG9rZW4xMjM=",
    ),
    (
        "google_oauth_token",
        "refresh gave ya29.a0AfB_byC9k2Lm9Xq4Vn7Rt1Wy6Bc3Dh5",
        "ya29.a0AfB_byC9k2Lm9Xq4Vn7Rt1Wy6Bc3Dh5",
    ),
]

CORPUS += [
    (
        "vault_token",
        "vault login ok: hvs.CAESIJ8kZq2Lm9Xv4Nt8Rw1Yb6Cd3Fh5Jk0Gs",
        "hvs.CAESIJ8kZq2Lm9Xv4Nt8Rw1Yb6Cd3Fh5Jk0Gs",
    ),
    (
        "shopify_token",
        "shop api 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",
        "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",
    ),
    (
        "discord_webhook",
        "alert sent to https://discord.com/api/webhooks/123456789012345678/Zq8Lm2Xv9Np4Rt7Wy1",
        "123456789012345678/Zq8Lm2Xv9Np4Rt7Wy1",
    ),
    (
        "telegram_bot_token",
        "bot 1234567890:AAHk8Zm2Lx9Kv4Np7Rt1Wy6Bc3Dh5Jk0Gs8 polling",
        "1234567890:AAHk8Zm2Lx9Kv4Np7Rt1Wy6Bc3Dh5Jk0Gs8",
    ),
]

# Realistic lines a cluster produces every minute: none of them holds a secret.
ORDINARY = [
    '2026-11-24T01:02:03.456Z INFO  http GET /healthz 200 1.2ms user_agent="kube-probe/1.31"',
    "Back-off restarting failed container api in pod api-7d9f8b6c5d-x2kqz_default",
    'Failed to pull image "registry.example.com/api:1.4.2": rpc error: code = NotFound',
    'Readiness probe failed: Get "http://10.0.3.17:8080/ready": dial tcp: connection refused',
    "0/12 nodes are available: 3 Insufficient memory, 9 node(s) had untolerated taint.",
    "error validating token: expired",
    "failed to refresh token: context deadline exceeded",
    "max_tokens=4096 temperature=0.2 model=claude",
    "password_file=/etc/app/password reloaded",
    "Liveness probe failed: HTTP probe failed with statuscode: 503",
    "sha256:4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
    'MountVolume.SetUp failed for volume "secret-vol" : secret "db-creds" not found',
    "Scaled up replica set web-5c9d7b8f6 to 3 from 2",
    'level=warn msg="slow query" duration=2.31s table=orders rows=10432',
    "Bearer authentication failed for user admin: token expired",
    "http://checkout.shop.svc.cluster.local:8080/healthz returned 503",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def test_corpus_covers_at_least_twenty_kinds() -> None:
    kinds = {kind for kind, _, _ in CORPUS}
    assert len(kinds) >= 20
    assert kinds - {"password", "secret", "token", "api_key"} <= BUILTIN_KINDS


@pytest.mark.parametrize(("kind", "text", "secret"), CORPUS, ids=[c[0] for c in CORPUS])
def test_planted_secret_does_not_survive(
    redactor: Redactor, kind: str, text: str, secret: str
) -> None:
    out = redactor.redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out


def test_whole_corpus_in_one_document(redactor: Redactor) -> None:
    document = "\n".join(text for _, text, _ in CORPUS)
    out = redactor.redact(document)
    for _, _, secret in CORPUS:
        assert secret not in out


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_lines_stay_intact(redactor: Redactor, line: str) -> None:
    assert redactor.redact(line) == line


def test_bearer_tokens_without_digits_are_still_hidden_when_long(redactor: Redactor) -> None:
    out = redactor.redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyzABCD")
    assert out == "Authorization: Bearer [REDACTED:bearer_token]"


def test_key_names_stay_visible(redactor: Redactor) -> None:
    assert redactor.redact("DB_PASSWORD=abc123xyz") == "DB_PASSWORD=[REDACTED:password]"


def test_redact_obj_keeps_shape_and_hides_values_under_secret_keys(redactor: Redactor) -> None:
    data = {
        "user": "app",
        "db_password": "plain",
        "nested": [{"note": f"token is {_JWT}"}, 3, None, True],
        "tuple": ("AKIAZ3MHTQ4JXP7W2LNB",),
    }
    out = redactor.redact_obj(data)
    assert out["user"] == "app"
    assert out["db_password"] == "[REDACTED:password]"
    assert out["nested"][0]["note"] == "token is [REDACTED:jwt]"
    assert out["nested"][1:] == [3, None, True]
    assert out["tuple"] == ("[REDACTED:aws_access_key]",)


def test_custom_patterns_from_settings() -> None:
    settings_ = Settings(redact_patterns="ACME-[0-9]{6}\ninternal-(?P<secret>\\w+)")
    redactor = Redactor.from_settings(settings_)
    out = redactor.redact("ticket ACME-123456 for internal-zeta")
    assert out == "ticket [REDACTED:custom] for internal-[REDACTED:custom]"


def test_truncated_private_key_is_still_hidden(redactor: Redactor) -> None:
    cut = _PEM[: len(_PEM) // 2]
    out = redactor.redact(f"log tail: {cut}")
    assert "MIIEow" not in out
    assert "[REDACTED:private_key]" in out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    redactor = Redactor()
    once = redactor.redact(text)
    assert redactor.redact(once) == once


@settings(max_examples=100, deadline=None)
@given(prefix=st.text(max_size=40), suffix=st.text(max_size=40))
def test_planted_key_survives_no_surrounding_text(prefix: str, suffix: str) -> None:
    secret = "AKIAZ3MHTQ4JXP7W2LNB"
    out = Redactor().redact(f"{prefix} {secret} {suffix}")
    assert secret not in out
    assert re.search(r"\[REDACTED:[a-z_]+\]", out)


def test_adversarial_input_takes_linear_time() -> None:
    """Long runs of key characters once cost quadratic time (minutes for a 200 KB annotation)."""
    import time

    redactor = Redactor()
    started = time.process_time()
    for text in (
        "-" * 100_000 + " password=x",
        "a_" * 50_000 + "token=y",
        "_password" * 10_000 + "=z",
    ):
        assert "[REDACTED:" in redactor.redact(text)
    assert time.process_time() - started < 5.0


def test_memo_memory_stays_bounded_when_every_string_is_new(redactor: Redactor) -> None:
    """Log lines carry a new timestamp or path every cycle: the memo must not keep them all."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(60_000):  # ~12M characters, of which none repeats
            text = f"/data/reports/cycle-20261124T{number:012d}.json {'x' * 160}"
            assert redactor.redact(text) == text
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < 5 * 1024 * 1024, retained  # ~1M characters plus the entries' overhead
    assert redactor.redact("token=abcdefghijklmnop123") == "token=[REDACTED:token]"
