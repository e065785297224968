from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from k8s_monitor.converse.answer import ANALYSIS_SCHEMA
from k8s_monitor.converse.prompts import SYSTEM_PROMPT
from k8s_monitor.llm.cache import MAX_BREAKPOINTS, count_breakpoints
from k8s_monitor.llm.wire import PRUNED_MARKER, build_request, to_api_messages
from tests.fakes.anthropic_server import validate_messages


def _identity(text: str) -> str:
    return text


def _validate_as_sent(request, **extra):
    """What the provider sends for ``request``, checked by the fake's own request validation."""
    body = {
        "model": "claude-haiku-5-5",
        "max_tokens": request.max_tokens,
        "system": request.system,
        "messages": request.messages,
        **extra,
    }
    validate_messages(body)


def test_meta_stripped_system_lifted_roles_merged():
    history = [
        {"role": "system", "content": "compaction summary", "meta": {"kind": "compaction"}},
        {"role": "assistant", "content": "ack"},
        {"role": "user", "content": "a", "meta": {"cycle": 1}},
        {
            "role": "user",
            "content": [{"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "assistant", "content": "   "},
        {"role": "user", "content": ""},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
        },
        {"role": "user", "content": "c"},
    ]
    system, messages = to_api_messages(history, _identity)
    assert system == ["compaction summary"]
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": PRUNED_MARKER}]}
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[2]["content"]] == ["a", "b", "c"]
    assert all("cache_control" not in b for m in messages for b in m["content"])


def test_redaction_applies_to_every_text_sent():
    history = [{"role": "user", "content": "password=abc"}]
    request = build_request(
        history,
        max_tokens=10,
        output_schema=None,
        cache_ttl=None,
        redact=lambda t: t.replace("abc", "[REDACTED]"),
        system_prompt=SYSTEM_PROMPT,
    )
    assert request.messages[0]["content"][0]["text"] == "password=[REDACTED]"


_text = st.one_of(st.just(""), st.just("  \n"), st.text(min_size=1, max_size=20))
_block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.builds(
        lambda i: {"type": "tool_use", "id": i, "name": "n", "input": {}}, st.text(max_size=3)
    ),
    st.builds(
        lambda i: {"type": "tool_result", "tool_use_id": i, "content": "r"}, st.text(max_size=3)
    ),
    st.just({"type": "image"}),
)
_entry = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "tool", "bogus"]),
        "content": st.one_of(_text, st.lists(_block, max_size=3), st.none(), st.integers()),
    },
    optional={"meta": st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)},
)


@settings(max_examples=150, deadline=None)
@given(history=st.lists(_entry, max_size=12), ttl=st.sampled_from([None, "5m", "1h"]))
def test_any_history_becomes_a_request_the_api_accepts(history, ttl):
    history = [*history, {"role": "user", "content": "the new cycle message"}]
    request = build_request(
        history,
        max_tokens=100,
        output_schema=ANALYSIS_SCHEMA,
        cache_ttl=ttl,
        redact=_identity,
        system_prompt=SYSTEM_PROMPT,
    )
    _validate_as_sent(
        request, output_config={"format": {"type": "json_schema", "schema": ANALYSIS_SCHEMA}}
    )
    assert count_breakpoints(request.system, request.messages) <= MAX_BREAKPOINTS


def test_redaction_memo_is_bounded_by_size_and_keeps_recent_texts() -> None:
    from k8s_monitor.llm.wire import memoized

    calls: list[str] = []

    def redact(text: str) -> str:
        calls.append(text)
        return text.upper()

    memo = memoized(redact, max_chars=100)
    texts = [f"{i:02d}" + "x" * 18 for i in range(10)]  # 20 chars each, 40 held per entry
    for text in texts:
        assert memo(text) == text.upper()
    assert memo.held_chars <= 100
    memo(texts[-1])  # recent: still cached
    assert calls.count(texts[-1]) == 1
    memo(texts[0])  # evicted long ago: recomputed
    assert calls.count(texts[0]) == 2


_TOOLS = [
    {"name": "n", "description": "d", "input_schema": {"type": "object", "properties": {}}},
]


@settings(max_examples=150, deadline=None)
@given(history=st.lists(_entry, max_size=12), ttl=st.sampled_from([None, "5m", "1h"]))
def test_any_history_with_tools_becomes_a_request_the_api_accepts(history, ttl):
    history = [*history, {"role": "user", "content": "the new cycle message"}]
    request = build_request(
        history,
        max_tokens=100,
        output_schema=ANALYSIS_SCHEMA,
        cache_ttl=ttl,
        redact=_identity,
        system_prompt=SYSTEM_PROMPT,
        tools=_TOOLS,
        tool_choice={"type": "auto"},
    )
    _validate_as_sent(request, tools=request.tools, tool_choice=request.tool_choice)
    assert count_breakpoints(request.system, request.messages, request.tools) <= MAX_BREAKPOINTS


def test_tool_turns_are_kept_paired_redacted_and_results_first():
    history = [
        {"role": "user", "content": "cycle 1"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "checking"},
                {"type": "tool_use", "id": "t1", "name": "n", "input": {"q": "abc"}},
                {"type": "tool_use", "id": "t2", "name": "n", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "abc", "is_error": True},
                {
                    "type": "tool_result",
                    "tool_use_id": "t2",
                    "content": [{"type": "text", "text": "x"}],
                },
            ],
        },
        {"role": "user", "content": "cycle 2"},
    ]
    request = build_request(
        history,
        max_tokens=10,
        output_schema=None,
        cache_ttl="5m",
        redact=lambda t: t.replace("abc", "[REDACTED]"),
        system_prompt=None,
        tools=_TOOLS,
    )
    uses = request.messages[1]["content"]
    assert [b["type"] for b in uses] == ["text", "tool_use", "tool_use"]
    assert uses[1]["input"] == {"q": "[REDACTED]"}
    results = request.messages[2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": "[REDACTED]",
        "is_error": True,
    }
    # No system prompt: the last tool carries the breakpoint that caches the definitions.
    assert request.tools is not None and request.tools[-1]["cache_control"]["ttl"] == "5m"
    # Without tools the same history sends text only (the API rejects tool blocks then).
    plain = build_request(
        history,
        max_tokens=10,
        output_schema=None,
        cache_ttl=None,
        redact=_identity,
        system_prompt=None,
    )
    assert all(b["type"] == "text" for m in plain.messages for b in m["content"])


def test_a_tool_pair_with_an_id_the_api_rejects_is_dropped_whole():
    # Found by the property test above: a stored pair with an empty id (a hand-edited session)
    # must not make the whole request a 400.
    history = [
        {"role": "user", "content": "cycle 1"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "", "name": "n", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "", "content": "r"}]},
        {"role": "user", "content": "cycle 2"},
    ]
    request = build_request(
        history,
        max_tokens=10,
        output_schema=None,
        cache_ttl=None,
        redact=_identity,
        system_prompt=SYSTEM_PROMPT,
        tools=_TOOLS,
    )
    blocks = [b for m in request.messages for b in m["content"]]
    assert all(b["type"] == "text" for b in blocks)
    _validate_as_sent(request, tools=_TOOLS)
