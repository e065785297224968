"""The redaction boundary, the guard before sinks, and the patterns added for issue 20."""

from __future__ import annotations

import json
import re

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8s_monitor.cluster.pages import decode_page
from k8s_monitor.cluster.sanitize import sanitize, string_fields
from k8s_monitor.cluster.snapshot import ObjectMeta, Pod, _K8s
from k8s_monitor.redaction import (
    _PLAIN,
    BUILTIN_PATTERNS,
    Guard,
    Redactor,
    guarded,
    strip_controls,
)

PEM_BODY = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("mysql -h db -uroot -pS3cr3tPw orders", "S3cr3tPw"),
        ("mysqldump --single-transaction -p'quoted pw' db", "quoted pw"),
        ("backup --password Fl4gPw --verbose", "Fl4gPw"),
        ("login -token abcdef123456 ok", "abcdef123456"),
        ("DB_PASS=DbPw9x HOST=db", "DbPw9x"),
        ("smtp-pass: Smtp9Pw", "Smtp9Pw"),
        ("SMTP_PASSWD=Smtp9Pw2", "Smtp9Pw2"),
        ('{"auth": "ZGVwbG95OnB3ZDEyMzQ="}', "ZGVwbG95OnB3ZDEyMzQ="),
        ('"{\\"auth\\": \\"ZGVwbG95OnB3ZDEyMzQ=\\"}"', "ZGVwbG95OnB3ZDEyMzQ="),
        ('{"identitytoken": "eyJhbGciOi.abc.def-123456"}', "eyJhbGciOi.abc.def-123456"),
        ('\\"private_key_id\\": \\"' + "ab" * 20 + '\\"', "ab" * 20),
        ('log {\\"db_password\\": \\"Esc4p3d\\"}', "Esc4p3d"),
        (f"tail starts here\n{PEM_BODY}-----END PRIVATE KEY-----\nexit 1", "MzEfYyjiWA4R4"),
        (f"cut inside a key:\n{PEM_BODY}more", "MIIEvQIBADANBgkqhkiG9w0"),
        ("the api key is 7Hc0Pl4ntR4nd0mQz9Xw2 for prod", "7Hc0Pl4ntR4nd0mQz9Xw2"),
        ("using token 9f8e7d6c5b4a39281706AbCd", "9f8e7d6c5b4a39281706AbCd"),
    ],
)
def test_new_forms_are_redacted(text: str, needle: str) -> None:
    out = Redactor().redact(text)
    assert needle not in out, out
    assert "[REDACTED:" in out


@pytest.mark.parametrize(
    "text",
    [
        "bypass=true compass=north",
        "token expired for user alice",
        "--token-file /var/run/secrets/token",
        "Back-off restarting failed container app in pod checkout-7d9f",
        "image sha256:" + "0123456789abcdef" * 4,
        "mysql connection refused -P 3306",
        "password reset requested",
        "api key rotation scheduled for Monday",
    ],
)
def test_prose_and_identifiers_stay(text: str) -> None:
    assert Redactor().redact(text) == text


@given(st.from_regex(_PLAIN, fullmatch=True))
@settings(max_examples=500)
def test_short_plain_words_match_no_builtin_pattern(text: str) -> None:
    """The boundary skips the patterns for such words; this is why that is sound."""
    for pattern in BUILTIN_PATTERNS:
        assert pattern.apply(text) == text, pattern.kind


def test_plain_words_still_meet_custom_patterns() -> None:
    redactor = Redactor.with_extra([r"ACME\d{6}"])
    assert redactor.clean("ACME123456") == "[REDACTED:custom]"


def test_controls_and_escapes_are_stripped_newline_and_tab_kept() -> None:
    text = "\x1b[31mred\x1b[0m\tok\nnext\x07\x00 \x1b]0;title\x07done \x9b2J\r"
    assert strip_controls(text) == "red\tok\nnext done "
    assert strip_controls("a\ud800b") == "a\ufffdb"
    assert strip_controls("plain") == "plain"


# --- the boundary walk --------------------------------------------------------------------------


def test_identity_fields_are_exempt_only_while_they_match_their_syntax() -> None:
    pod = msgspec.convert(
        {
            "metadata": {
                "name": "token-refresher-5d8f9",
                "namespace": "a b password=hunter2x",
                "uid": "0b1c2d3e-0000-4000-8000-000000000001",
            },
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/app:v1.2"}]},
        },
        Pod,
    )
    sanitize(pod, Redactor())
    assert pod.metadata.name == "token-refresher-5d8f9"
    assert pod.metadata.namespace == "a b password=[REDACTED:password]"
    assert pod.spec.containers[0].image == "ghcr.io/acme/app:v1.2"


class _Future(_K8s):
    """A struct as someone might add it tomorrow, listing no field for redaction."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    note: str = ""
    notes: tuple[str, ...] = ()
    extra: dict[str, str] = {}
    free: dict[str, object] = {}
    maybe: str | None = None


def test_a_new_struct_is_redacted_in_every_string_without_being_listed() -> None:
    secret = "ghp_" + "A1b2C3d4" * 5
    raw = {
        "metadata": {"name": "ok", "annotations": {"note": f"token={secret}"}},
        "note": f"x {secret}",
        "notes": [f"y {secret}"],
        "extra": {"k": f"z {secret}"},
        "free": {"deep": [{"deeper": f"w {secret}"}]},
        "maybe": f"v {secret}",
    }
    item = msgspec.convert(raw, _Future)
    sanitize(item, Redactor())
    assert secret not in msgspec.json.encode(item).decode()
    assert len(list(string_fields(_Future))) >= 6


def test_a_lone_surrogate_costs_one_character_not_the_page() -> None:
    body = (
        b'{"metadata": {}, "items": ['
        b'{"metadata": {"name": "a"}, "status": {"message": "bad \\ud800 text"}},'
        b'{"metadata": {"name": "b"}, "status": {"message": "pair \\ud83d\\ude00 ok"}}]}'
    )
    page = decode_page(body, Pod)
    assert page.items is not None
    assert [p.metadata.name for p in page.items] == ["a", "b"]
    assert page.items[0].status.message == "bad \ufffd text"
    assert page.items[1].status.message == "pair \U0001f600 ok"


# --- the guard ----------------------------------------------------------------------------------


def test_guard_redacts_counts_by_sink_and_tells_the_listener() -> None:
    guard = Guard(Redactor())
    heard: list[tuple[str, int]] = []
    guard.on_hit(lambda sink, count: heard.append((sink, count)))
    assert guard.text("report", "all quiet") == "all quiet"
    assert guard.text("report", "password=hunter2x and token=abc123def") == (
        "password=[REDACTED:password] and token=[REDACTED:token]"
    )
    checked = guard.obj("ledger", {"k": ["x", {"api_key=Ak3yV4lue99": "v"}]})
    assert "Ak3yV4lue99" not in json.dumps(checked)
    assert guard.hits() == {"report": 2, "ledger": 1}
    assert heard == [("report", 2), ("ledger", 1)]


def test_guard_never_counts_text_already_redacted() -> None:
    guard = Guard(Redactor())
    once = Redactor().redact("password=hunter2x token=abc123def " + PEM_BODY)
    assert guard.text("session", once) == once
    assert guard.hits() == {}


def test_guarded_pass_counts_in_the_process_guard() -> None:
    from k8s_monitor.redaction import GUARD

    before = GUARD.hits().get("unit-test", 0)
    redact = guarded("unit-test", Redactor())
    assert redact("secret=s3cr3tv4lue") == "secret=[REDACTED:secret]"
    assert GUARD.hits()["unit-test"] == before + 1
    assert re.fullmatch(r"quiet", redact("quiet"))
