"""The fake API rejects what the real one rejects and accounts caching like it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, deterministic_answer


@pytest.fixture
def fake():
    server = FakeAnthropic(min_cacheable_tokens=100).serve()
    yield server
    server.close()


def post(fake, body, *, path="/v1/messages", headers=None):
    data = json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, method="POST")
    for name, value in (headers or {"x-api-key": "test-key"}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def body(messages, **extra):
    return {"model": "claude-haiku-5-5", "max_tokens": 100, "messages": messages, **extra}


USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    "request_body",
    [
        body([{"role": "system", "content": "s"}, USER]),
        body([{"role": "user", "content": ""}]),
        body([{"role": "user", "content": "   "}]),
        body([{"role": "user", "content": []}]),
        body([{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        body([{"role": "tool", "content": "x"}]),
        body([USER, {"role": "assistant", "content": "prefill"}]),
        {"model": "m", "messages": [USER]},
        body([]),
        body([USER], unknown_field=1),
        body([USER], tool_choice={"type": "tool", "name": "x"}),
        body(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"t{i}", "cache_control": {"type": "ephemeral"}}
                        for i in range(5)
                    ],
                }
            ]
        ),
        body(
            [
                USER,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "n", "input": {}}],
                },
                {"role": "user", "content": "no result"},
            ]
        ),
        body(
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "zz", "content": "r"}],
                }
            ]
        ),
        body(
            [USER],
            output_config={
                "format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}
            },
        ),
        body(
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "a",
                            "cache_control": {"type": "ephemeral", "ttl": "5m"},
                        },
                        {
                            "type": "text",
                            "text": "b",
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        },
                    ],
                }
            ]
        ),
    ],
)
def test_rejects_what_the_api_rejects(fake, request_body):
    status, payload, headers = post(fake, request_body)
    assert status == 400
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert payload["request_id"] == headers["request-id"]
    assert fake.stats.rejected == 1


def test_accepts_both_auth_headers_and_refuses_others(fake):
    assert post(fake, body([USER]), headers={"x-api-key": "test-key"})[0] == 200
    assert post(fake, body([USER]), headers={"authorization": "Bearer test-key"})[0] == 200
    status, payload, _ = post(fake, body([USER]), headers={"x-api-key": "nope"})
    assert status == 401 and payload["error"]["type"] == "authentication_error"


def _cached_body(text, ttl="5m"):
    long = "word " * 400
    return body(
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": long + text,
                        "cache_control": {"type": "ephemeral", "ttl": ttl},
                    }
                ],
            }
        ]
    )


def test_caching_by_prefix_and_ttl(fake):
    _, first, _ = post(fake, _cached_body("a"))
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert first["usage"]["cache_creation"]["ephemeral_5m_input_tokens"] > 0
    _, second, _ = post(fake, _cached_body("a"))
    assert (
        second["usage"]["cache_read_input_tokens"] == first["usage"]["cache_creation_input_tokens"]
    )
    assert second["usage"]["cache_creation_input_tokens"] == 0
    _, changed, _ = post(fake, _cached_body("b"))  # any byte change in the prefix misses
    assert changed["usage"]["cache_read_input_tokens"] == 0
    fake.advance(301)
    _, expired, _ = post(fake, _cached_body("a"))
    assert expired["usage"]["cache_read_input_tokens"] == 0


def test_growing_conversation_reads_the_previous_prefix(fake):
    long = "word " * 400
    turn1 = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": long, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ],
        }
    ]
    _, first, _ = post(fake, body(turn1))
    turn2 = [
        {"role": "user", "content": [{"type": "text", "text": long}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "text",
                    "text": "answer",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "next " * 50,
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                }
            ],
        },
    ]
    fake.advance(900)
    _, second, _ = post(fake, body(turn2))
    usage = second["usage"]
    assert usage["cache_read_input_tokens"] == first["usage"]["cache_creation_input_tokens"]
    assert usage["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    assert usage["input_tokens"] == 0


def test_below_minimum_nothing_is_cached(fake):
    short = body(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "tiny", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ]
    )
    _, first, _ = post(fake, short)
    _, second, _ = post(fake, short)
    assert first["usage"]["cache_creation_input_tokens"] == 0
    assert second["usage"]["cache_read_input_tokens"] == 0


def test_count_tokens_endpoint(fake):
    status, payload, _ = post(
        fake, {"model": "m", "messages": [USER]}, path="/v1/messages/count_tokens"
    )
    assert status == 200 and payload["input_tokens"] > 0


def test_deterministic_answer_reads_the_cycle_message():
    text = (
        '<cycle number="2">\n## Changes since the previous cycle\n'
        '- NEW [critical] fp=aaaaaaaaaaaa CrashLoopBackOff on Deployment/shop/api msg="x"\n'
        "## Open incidents (most severe first)\n"
        "- [critical] fp=aaaaaaaaaaaa CrashLoopBackOff on Deployment/shop/api status=new since\n"
        "- [warning] fp=bbbbbbbbbbbb OOMKilled on Deployment/shop/web status=recurring since\n"
    )
    answer = json.loads(deterministic_answer({"messages": [{"role": "user", "content": text}]}))
    assert answer["overall_health"] == "critical"
    assert answer["new_fingerprints"] == ["aaaaaaaaaaaa"]
    assert answer["recurring_fingerprints"] == ["bbbbbbbbbbbb"]
    assert answer["escalations"][0]["fingerprint"] == "aaaaaaaaaaaa"


# --- tool use: the API's rules, and the scripted tool-using model --------------------------------

TOOL = {"name": "get_object", "input_schema": {"type": "object", "properties": {}}}
CALL = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "t1", "name": "get_object", "input": {}}],
}
ANSWER = {
    "role": "user",
    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
}


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (body([USER, CALL, ANSWER]), "must define tools"),
        (body([USER], tools=[{**TOOL, "name": "bad name!"}]), "pattern"),
        (body([USER], tools=[TOOL, TOOL]), "unique"),
        (body([USER], tools=[{"name": "x", "input_schema": {"type": "string"}}]), "type 'object'"),
        (body([USER], tools=[TOOL], tool_choice={"type": "tool", "name": "other"}), "not found"),
        (body([USER], tool_choice={"type": "auto"}), "while providing tools"),
        (body([USER], tools=[TOOL], tool_choice={"type": "maybe"}), "tool_choice.type"),
        (
            body(
                [
                    USER,
                    CALL,
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "x"}, *ANSWER["content"]],
                    },
                ],
                tools=[TOOL],
            ),
            "FIRST",
        ),
        (
            body(
                [
                    USER,
                    CALL,
                    ANSWER,
                    CALL,
                    {"role": "user", "content": ANSWER["content"]},
                ],
                tools=[TOOL],
            ),
            "unique",
        ),
        (body([USER, CALL, USER], tools=[TOOL]), "without `tool_result`"),
    ],
)
def test_rejects_tool_use_the_api_rejects(fake, request_body, expected):
    status, payload, _ = post(fake, request_body)
    assert status == 400 and payload["error"]["type"] == "invalid_request_error"
    assert expected in payload["error"]["message"]


def test_scripted_tool_use_then_answer(fake):
    from tests.fakes.anthropic_server import ToolScript

    fake.tool_script = ToolScript(plan=lambda request: [[{"name": "get_object", "input": {}}]])
    status, first, _ = post(fake, body([USER], tools=[TOOL]))
    assert status == 200 and first["stop_reason"] == "tool_use"
    use = first["content"][0]
    assert use["type"] == "tool_use" and use["name"] == "get_object"
    answer = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "r"}],
    }
    follow = body([USER, {"role": "assistant", "content": first["content"]}, answer], tools=[TOOL])
    status, second, _ = post(fake, follow)
    assert status == 200 and second["stop_reason"] == "end_turn"
    assert second["content"][0]["type"] == "text"
    # tool_choice none: the model answers in text even with calls left in the script
    status, third, _ = post(fake, body([USER], tools=[TOOL], tool_choice={"type": "none"}))
    assert status == 200 and third["content"][0]["type"] == "text"
