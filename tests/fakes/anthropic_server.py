"""A loopback fake of the Anthropic Messages API for tests, demos and benchmarks.

Point the real SDK at it (``anthropic.Anthropic(api_key=..., base_url=server.url)``). It:

- serves ``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` (and Bedrock's
  ``POST /model/{id}/invoke``) and accepts both ``x-api-key`` and ``Authorization: Bearer``
  credentials;
- rejects what the real API rejects, with the real error body shape
  (``{"type": "error", "error": {"type", "message"}, "request_id"}`` and a ``request-id``
  header): unknown roles or ``system`` inside ``messages``, empty or whitespace-only content,
  a missing ``max_tokens``/``model``/``messages``, more than 4 ``cache_control`` breakpoints, a
  1h breakpoint after a 5m one, broken ``tool_use``/``tool_result`` pairs, forced
  ``tool_choice``, assistant prefill, structured-output schemas without
  ``additionalProperties: false``, unknown top-level fields, prompts over the context window;
- knows the models of the price table (``k8s_monitor/llm/prices.json``): an unknown model id is
  404 ``not_found_error``, and each model's context window and documented minimum cacheable
  prompt length apply unless the constructor overrides them;
- emulates prompt caching by prefix and TTL (breakpoints, a 20-block lookback, a minimum
  cacheable length, read refreshing the TTL) and reports the real ``usage`` fields, on a clock
  the caller may control (``advance``) so a simulated day runs in seconds; ``miss_cache`` makes
  every lookup miss (writes are still billed), as an API whose cache keeps evicting would;
- injects faults on demand (``inject``): 429 with ``retry-after-ms``, 529, 500, slow answers
  (client timeouts), connection resets, malformed bodies, HTML pages with a 200 (a proxy),
  spend-limit 429s, invalid answers,
  context overflows;
- records every request (path, headers, body) for assertions such as secret-leak checks;
- answers with a deterministic structured analysis derived from the cycle message, so
  end-to-end runs see "model" answers;
- with a ``tool_script`` (:class:`ToolScript`), calls the offered tools in a scripted order
  (``stop_reason: "tool_use"``) before answering, and enforces the API's tool rules: tool
  definitions valid and uniquely named, ``tool_choice`` naming an offered tool, tool blocks
  only in requests that define tools, every ``tool_use`` answered by a ``tool_result`` in the
  next user turn with the results first, ``tool_use`` ids unique.

Tokens are counted as one per four UTF-8 bytes of text, plus a small per-message overhead.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from k8s_monitor.llm.accounting import ModelPrice, load_price_table, normalize_model_id
from tests.fakes.loopback import LoopbackServer

MESSAGE_OVERHEAD = 4
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
SPEND_LIMIT_CODE = "enforced_spend_limit_reached"
TOP_LEVEL_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
        "service_tier",
        "container",
        "inference_geo",
        "speed",
        "diagnostics",
    }
)
COUNT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
        "speed",
    }
)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.error_code = error_code
        self.headers = headers or {}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass
class Fault:
    """One injected failure, consumed by the next ``count`` message requests."""

    kind: str  # rate_limit | overloaded | server_error | slow | reset | malformed | html
    #            spend_limit | invalid_answer | context_too_long | bad_request
    count: int = 1
    retry_after_ms: int = 10
    delay_seconds: float = 2.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _CacheEntry:
    expires_at: float
    ttl: str
    tokens: int


@dataclass
class _Block:
    key: bytes  # canonical content, cache_control excluded
    tokens: int
    ttl: str | None  # the block carries a breakpoint with this TTL


@dataclass
class ServerStats:
    requests: int = 0
    rejected: int = 0
    faults: int = 0
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        }
    )


def count_text(text: str) -> int:
    return math.ceil(len(text.encode()) / 4) if text else 0


class FakeAnthropic(LoopbackServer):
    """The fake's state: cache, faults, records. ``serve()`` starts the HTTP side."""

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        context_window: int | None = None,
        min_cacheable_tokens: int | None = None,
        clock: Callable[[], float] | None = None,
        record_bodies: bool = True,
        answer: Callable[[dict[str, Any]], str] | None = None,
        models: dict[str, ModelPrice] | None = None,
    ) -> None:
        """``context_window`` / ``min_cacheable_tokens`` override every model's table values."""
        self.api_key = api_key
        self.models = dict(models if models is not None else load_price_table().models)
        self.context_window_override = context_window
        self.min_cacheable_override = min_cacheable_tokens
        self.miss_cache = False
        self._offset = 0.0
        self._clock = clock or time.monotonic
        self.record_bodies = record_bodies
        self.answer = answer or deterministic_answer
        self.tool_script: ToolScript | None = None
        self.records: list[Recorded] = []
        self.stats = ServerStats()
        self._faults: deque[Fault] = deque()
        self._cache: dict[bytes, _CacheEntry] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # --- control ---------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the cache clock forward (simulated time between cycles)."""
        with self._lock:
            self._offset += seconds

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def model_price(self, model: str) -> ModelPrice:
        price = self.models.get(normalize_model_id(model))
        if price is None:
            raise ApiError(404, "not_found_error", f"model: {model}")
        return price

    def context_window_of(self, model: str) -> int:
        if self.context_window_override is not None:
            return self.context_window_override
        return self.model_price(model).context_window

    @property
    def context_window(self) -> int:
        """The override, else the largest window of the known models (fault messages)."""
        if self.context_window_override is not None:
            return self.context_window_override
        return max(p.context_window for p in self.models.values())

    @context_window.setter
    def context_window(self, tokens: int) -> None:
        self.context_window_override = tokens

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def bodies(self, path: str = "/v1/messages") -> list[Any]:
        return [r.body for r in self.records if r.path == path]

    # --- request handling --------------------------------------------------------------------

    def next_request_id(self) -> str:
        return f"req_fake{next(self._ids):08d}"

    def take_fault(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self._faults.popleft()
            self.stats.faults += 1
            return fault

    def check_auth(self, headers: dict[str, str]) -> None:
        if self.api_key is None:
            return
        key = headers.get("x-api-key")
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            key = key or bearer[7:].strip()
        if key != self.api_key:
            raise ApiError(401, "authentication_error", "invalid x-api-key")

    def messages(self, body: Any) -> dict[str, Any]:
        request = validate_messages(body)
        price = self.model_price(request["model"])
        window = self.context_window_of(request["model"])
        blocks = flatten(request)
        total = sum(b.tokens for b in blocks)
        if total > window:
            raise invalid(f"prompt is too long: {total} tokens > {window} maximum")
        minimum = self.min_cacheable_override or price.min_cacheable_tokens
        usage = self._cache_usage(blocks, request.get("cache_control"), minimum)
        content, stop_reason = self._reply(request)
        usage["output_tokens"] = sum(
            count_text(b["text"]) if b["type"] == "text" else count_text(json.dumps(b))
            for b in content
        )
        self._account(usage)
        return {
            "id": f"msg_fake{next(self._ids):08d}",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _reply(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        script = self.tool_script
        choice = (request.get("tool_choice") or {}).get("type", "auto")
        if script is not None and request.get("tools") and choice != "none":
            with self._lock:
                turn = script.next_turn(request, self._ids)
            if turn is not None:
                return turn
        return [{"type": "text", "text": self.answer(request)}], "end_turn"

    def count_tokens(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("request body must be a JSON object")
        unknown = sorted(set(body) - COUNT_FIELDS)
        if unknown:
            raise invalid(f"{unknown[0]}: Extra inputs are not permitted")
        request = validate_messages({**body, "max_tokens": 1})
        self.model_price(request["model"])
        return {"input_tokens": sum(b.tokens for b in flatten(request))}

    def _cache_usage(self, blocks: list[_Block], auto: Any, minimum: int) -> dict[str, Any]:
        if isinstance(auto, dict) and blocks and blocks[-1].ttl is None:
            blocks[-1].ttl = str(auto.get("ttl", "5m"))
        prefix = hashlib.sha256()
        hashes: list[bytes] = []
        cumulative: list[int] = []
        running = 0
        for block in blocks:
            prefix.update(block.key)
            hashes.append(prefix.copy().digest())
            running += block.tokens
            cumulative.append(running)
        breakpoints = [i for i, b in enumerate(blocks) if b.ttl is not None]
        now = self.now()
        with self._lock:
            read_at = None if self.miss_cache else self._lookup(breakpoints, hashes, now)
            read = cumulative[read_at] if read_at is not None else 0
            written = {"5m": 0, "1h": 0}
            covered = read_at if read_at is not None else -1
            for index in breakpoints:
                if index <= covered or cumulative[index] < minimum:
                    continue
                ttl = blocks[index].ttl or "5m"
                written[ttl] += cumulative[index] - (cumulative[covered] if covered >= 0 else 0)
                self._cache[hashes[index]] = _CacheEntry(
                    now + TTL_SECONDS[ttl], ttl, cumulative[index]
                )
                covered = index
        cached_end = cumulative[covered] if covered >= 0 else 0
        return {
            "input_tokens": running - cached_end,
            "cache_creation_input_tokens": written["5m"] + written["1h"],
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written["5m"],
                "ephemeral_1h_input_tokens": written["1h"],
            },
            "service_tier": "standard",
        }

    def _lookup(self, breakpoints: list[int], hashes: list[bytes], now: float) -> int | None:
        best: int | None = None
        for index in breakpoints:
            for position in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1):
                entry = self._cache.get(hashes[position])
                if entry is None or entry.expires_at < now:
                    continue
                if best is None or position > best:
                    best = position
                break
        if best is not None:
            entry = self._cache[hashes[best]]
            entry.expires_at = now + TTL_SECONDS[entry.ttl]  # a read refreshes the TTL
        return best

    def _account(self, usage: dict[str, Any]) -> None:
        with self._lock:
            self.stats.requests += 1
            for key in self.stats.usage:
                self.stats.usage[key] += int(usage.get(key, 0))


# --- validation: the documented rules, strictly --------------------------------------------


def validate_messages(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    unknown = sorted(set(body) - TOP_LEVEL_FIELDS)
    if unknown:
        raise invalid(f"{unknown[0]}: Extra inputs are not permitted")
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            raise invalid(f"{name}: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise invalid("model: Input should be a valid string")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")
    _validate_system(body.get("system"))
    _validate_message_list(body["messages"])
    if "tools" in body:
        validate_tools(body["tools"])
    _validate_tool_blocks(body)
    _validate_tool_choice(body.get("tool_choice"), body.get("tools"))
    _validate_output_config(body.get("output_config"))
    _validate_breakpoints(body)
    return body


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or list of text blocks")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{index}: Input should be a text block")
        _validate_text(block, f"system.{index}")


def _validate_message_list(messages: Any) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{index}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise invalid(
                f'messages.{index}: Unexpected role "system". The Messages API accepts a '
                'top-level `system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            raise invalid(f"messages.{index}.{extra[0]}: Extra inputs are not permitted")
        _validate_content(message.get("content"), f"messages.{index}", role, index, messages)
    if messages[0]["role"] != "user":
        raise invalid('messages: first message must use the "user" role')
    if messages[-1]["role"] == "assistant":
        raise invalid(
            "This model does not support assistant message prefill. The conversation must end "
            "with a user message."
        )
    _validate_tool_pairs(messages)


def _validate_content(content: Any, where: str, role: str, index: int, messages: list[Any]) -> None:
    if isinstance(content, str):
        if not content:
            raise invalid(f"{where}: all messages must have non-empty content")
        if not content.strip():
            raise invalid(f"{where}: text content blocks must contain non-whitespace text")
        return
    if not isinstance(content, list):
        raise invalid(f"{where}.content: Input should be a valid string or list")
    if not content:
        raise invalid(
            f"{where}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    for number, block in enumerate(content):
        if not isinstance(block, dict) or "type" not in block:
            raise invalid(f"{where}.content.{number}: Input should be a content block")
        if block["type"] == "text":
            _validate_text(block, f"{where}.content.{number}")
        elif block["type"] == "tool_use" and role != "assistant":
            raise invalid(f"{where}.content.{number}: tool_use blocks belong to assistant turns")
        elif block["type"] == "tool_result" and role != "user":
            raise invalid(f"{where}.content.{number}: tool_result blocks belong to user turns")


def _validate_text(block: dict[str, Any], where: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        raise invalid(f"{where}.text: Field required")
    if not text:
        raise invalid(f"{where}: text content blocks must be non-empty")
    if not text.strip():
        raise invalid(f"{where}: text content blocks must contain non-whitespace text")
    extra = sorted(set(block) - {"type", "text", "cache_control", "citations"})
    if extra:
        raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _validate_tool_pairs(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        uses = [b.get("id") for b in _blocks(message) if b.get("type") == "tool_use"]
        results = [b.get("tool_use_id") for b in _blocks(message) if b.get("type") == "tool_result"]
        if results:
            previous = messages[index - 1] if index > 0 else {}
            offered = {b.get("id") for b in _blocks(previous) if b.get("type") == "tool_use"}
            for tool_id in results:
                if tool_id not in offered:
                    raise invalid(
                        f"messages.{index}.content: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {tool_id}. Each `tool_result` block must have "
                        "a corresponding `tool_use` block in the previous message."
                    )
        if uses:
            following = messages[index + 1] if index + 1 < len(messages) else None
            answered = (
                {b.get("tool_use_id") for b in _blocks(following) if b.get("type") == "tool_result"}
                if following is not None
                else set()
            )
            missing = [u for u in uses if u not in answered]
            if missing and following is not None:
                raise invalid(
                    f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {missing[0]}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )


_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_TOOL_FIELDS = frozenset({"name", "description", "input_schema", "cache_control", "type", "strict"})


def validate_tools(tools: Any) -> None:
    """Tool definitions as the API checks them: names, schemas, no duplicates."""
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if not isinstance(tool, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        extra = sorted(set(tool) - _TOOL_FIELDS)
        if extra:
            raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise invalid(f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if name in names:
            raise invalid(f"tools: Tool names must be unique; {name!r} appears twice")
        names.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise invalid(f"{where}.input_schema: Input schema must have type 'object'")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise invalid(f"{where}.input_schema.properties: Input should be a valid dictionary")
        for required in schema.get("required", []):
            if required not in properties:
                raise invalid(f"{where}.input_schema: required property {required!r} is undefined")


def _tool_blocks_of(messages: list[dict[str, Any]]) -> list[tuple[int, int, dict[str, Any]]]:
    return [
        (index, number, block)
        for index, message in enumerate(messages)
        for number, block in enumerate(_blocks(message))
        if block.get("type") in ("tool_use", "tool_result")
    ]


def _validate_tool_blocks(body: dict[str, Any]) -> None:
    messages = body["messages"]
    found = _tool_blocks_of(messages)
    if found and not body.get("tools"):
        raise invalid(
            "Requests which include `tool_use` or `tool_result` blocks must define tools."
        )
    ids: set[str] = set()
    for index, number, block in found:
        where = f"messages.{index}.content.{number}"
        if block["type"] == "tool_use":
            tool_id = block.get("id")
            if not isinstance(tool_id, str) or not _TOOL_ID.match(tool_id):
                raise invalid(f"{where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
            if tool_id in ids:
                raise invalid(f"{where}: `tool_use` ids must be unique: {tool_id}")
            ids.add(tool_id)
            if not isinstance(block.get("name"), str) or not block["name"]:
                raise invalid(f"{where}.name: Field required")
            if not isinstance(block.get("input"), dict):
                raise invalid(f"{where}.input: Input should be a valid dictionary")
        else:
            content = block.get("content", "")
            if not isinstance(content, str | list):
                raise invalid(f"{where}.content: Input should be a valid string or list")
            if "is_error" in block and not isinstance(block["is_error"], bool):
                raise invalid(f"{where}.is_error: Input should be a valid boolean")
    for index, message in enumerate(messages):
        kinds = [b.get("type") for b in _blocks(message)]
        if "tool_result" in kinds:
            first_other = next((n for n, k in enumerate(kinds) if k != "tool_result"), len(kinds))
            if "tool_result" in kinds[first_other:]:
                raise invalid(
                    f"messages.{index}: tool_result blocks must come FIRST in the content "
                    "array of a user message, before any other content."
                )


def _validate_tool_choice(choice: Any, tools: Any = None) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if not tools:
        raise invalid("tool_choice: tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool":
        offered = {t.get("name") for t in tools if isinstance(t, dict)}
        if choice.get("name") not in offered:
            raise invalid(f"tool_choice.name: Tool {choice.get('name')!r} not found in tools")
    if isinstance(choice, dict) and choice.get("type") in ("tool", "any"):
        raise invalid(
            "tool_choice: forcing tool use is not supported by this model; use output_config "
            "for structured output"
        )


def _validate_output_config(config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid("output_config: Input should be a valid dictionary")
    extra = sorted(set(config) - {"format", "effort"})
    if extra:
        raise invalid(f"output_config.{extra[0]}: Extra inputs are not permitted")
    fmt = config.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or "schema" not in fmt:
        raise invalid("output_config.format: expected {type: 'json_schema', schema: {...}}")
    _validate_schema(fmt["schema"], "output_config.format.schema")


def _validate_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise invalid(f"{where}: schema must be an object")
    if schema.get("type") == "object":
        if schema.get("additionalProperties") is not False:
            raise invalid(f"{where}: objects must set 'additionalProperties' to false")
        for name, child in (schema.get("properties") or {}).items():
            _validate_schema(child, f"{where}.properties.{name}")
    for keyword in ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
        if keyword in schema and not (keyword == "minItems" and schema[keyword] in (0, 1)):
            raise invalid(f"{where}: '{keyword}' is not supported in structured outputs")
    if schema.get("type") == "array" and "items" in schema:
        _validate_schema(schema["items"], f"{where}.items")


def _all_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    result = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, list):
        result.extend(b for b in system if isinstance(b, dict))
    for message in body["messages"]:
        result.extend(_blocks(message))
    return result


def _validate_breakpoints(body: dict[str, Any]) -> None:
    marked = [b["cache_control"] for b in _all_blocks(body) if b.get("cache_control")]
    if isinstance(body.get("cache_control"), dict):
        marked.append(body["cache_control"])
    if len(marked) > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marked)}."
        )
    seen_short = False
    for control in marked:
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise invalid("cache_control.type: Input should be 'ephemeral'")
        ttl = control.get("ttl", "5m")
        if ttl not in TTL_SECONDS:
            raise invalid("cache_control.ttl: Input should be '5m' or '1h'")
        if ttl == "1h" and seen_short:
            raise invalid(
                "cache_control: a ttl='1h' cache_control block must not come after a "
                "ttl='5m' cache_control block"
            )
        seen_short = seen_short or ttl == "5m"


def flatten(body: dict[str, Any]) -> list[_Block]:
    """The request as cacheable blocks in prefix order: tools, system, messages."""
    blocks: list[_Block] = []

    def add(kind: str, block: Any) -> None:
        if isinstance(block, dict):
            control = block.get("cache_control")
            clean = {k: v for k, v in block.items() if k != "cache_control"}
            text = json.dumps(clean, sort_keys=True)
            tokens = count_text(block.get("text", "")) if "text" in block else count_text(text)
            ttl = str(control.get("ttl", "5m")) if isinstance(control, dict) else None
        else:
            text, tokens, ttl = str(block), count_text(str(block)), None
        blocks.append(_Block(key=f"{kind}|{text}\x00".encode(), tokens=tokens, ttl=ttl))

    for tool in body.get("tools") or []:
        add("tool", tool)
    system = body.get("system")
    if isinstance(system, str) and system:
        add("system", {"type": "text", "text": system})
    elif isinstance(system, list):
        for block in system:
            add("system", block)
    fmt = (body.get("output_config") or {}).get("format")
    if fmt:
        add("format", {"type": "format", "schema": fmt.get("schema")})
    for message in body["messages"]:
        content = message["content"]
        items = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for number, block in enumerate(items):
            add(message["role"], block)
            if number == 0:
                blocks[-1].tokens += MESSAGE_OVERHEAD
    return blocks


# --- the deterministic "model" --------------------------------------------------------------

_LINE = re.compile(r"^- (NEW|FLAPPING|RESOLVED) \[(\w+)\] fp=([0-9a-f]+) (\S+) on (\S+)")
_OPEN = re.compile(r"^- \[(\w+)\] fp=([0-9a-f]+) (\S+) on (\S+) status=(\w+)")


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request["messages"]):
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def _cycle_text(request: dict[str, Any]) -> str:
    """The newest cycle message (a repair request refers back to it)."""
    for message in reversed(request["messages"]):
        if message["role"] != "user":
            continue
        content = message["content"]
        text = (
            content
            if isinstance(content, str)
            else "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
        )
        if "<cycle " in text:
            return text[text.rindex("<cycle ") :]
        if "<question>" in text:  # k8s-monitor ask
            return text[text.rindex("<question>") :]
    return _last_user_text(request)


def deterministic_answer(request: dict[str, Any]) -> str:
    """A valid analysis JSON computed from the latest cycle message in ``request``."""
    text = _cycle_text(request)
    new, resolved, recurring, severities = [], [], [], {}
    subjects: dict[str, str] = {}
    for line in text.splitlines():
        change = _LINE.match(line)
        if change:
            label, severity, fp, reason, subject = change.groups()
            if label == "NEW":
                new.append(fp)
            elif label == "RESOLVED":
                resolved.append(fp)
            subjects[fp] = f"{reason} on {subject}"
            continue
        opened = _OPEN.match(line)
        if opened:
            severity, fp, reason, subject, status = opened.groups()
            severities[fp] = severity
            subjects[fp] = f"{reason} on {subject}"
            if status in ("recurring", "flapping") and fp not in recurring:
                recurring.append(fp)
    if "critical" in severities.values():
        health = "critical"
    elif severities:
        health = "degraded"
    else:
        health = "healthy"
    critical = sorted(fp for fp, sev in severities.items() if sev == "critical")
    # A sentence per incident, as a real model explains each one: answers grow with incidents.
    explained = " ".join(
        f"{subjects[fp]} ({severities.get(fp, 'resolved')}): "
        f"{'new this cycle' if fp in new else 'resolved' if fp in resolved else 'still open'}, "
        "check its recent changes, events and logs for the cause."
        for fp in sorted(subjects)
    )
    answer = {
        "overall_health": health,
        "summary": (
            f"{len(severities)} open incident(s), {len(new)} new, {len(resolved)} resolved. "
            + " ".join(f"{subjects[fp]} is critical." for fp in critical[:3])
            + (f" {explained}" if explained else "")
        ).strip(),
        "new_fingerprints": sorted(new),
        "recurring_fingerprints": sorted(recurring),
        "resolved_fingerprints": sorted(resolved),
        "escalations": [
            {"fingerprint": fp, "severity": "SEV-2", "reason": "critical and open"}
            for fp in critical
        ],
        "recommended_actions": [f"Investigate {subjects[fp]}" for fp in critical[:5]],
        "investigations": scripted_investigations(request),
    }
    return json.dumps(answer, sort_keys=True)


# --- the scripted tool-using "model" ---------------------------------------------------------

# The converse stage's investigation request, as rendered into the cycle message.
_INVESTIGATE = re.compile(r"^- investigate fp=([0-9a-f]+) (\S+) on (\S+)", re.MULTILINE)
ToolPlan = Callable[[dict[str, Any]], list[list[dict[str, Any]]]]


def investigated(request: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(fingerprint, reason, subject)`` of each incident the cycle message asks to investigate."""
    return [m.groups() for m in _INVESTIGATE.finditer(_cycle_text(request))]


def _subject_parts(subject: str) -> tuple[str, str, str]:
    parts = subject.split("/")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], "", parts[-1]


def default_plan(request: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """What an engineer reads first, per incident: the rules' evidence, the object, its
    events, then its logs (a pod), its rollout (a Deployment) or its node detail (a node).
    One turn per step, the incidents' calls of a step side by side (parallel tool use)."""
    turns: list[list[dict[str, Any]]] = [[], [], [], []]
    for fingerprint, _reason, subject in investigated(request):
        kind, namespace, name = _subject_parts(subject)
        where = {"namespace": namespace} if namespace else {}
        tag = {"incident": fingerprint}
        turns[0].append({"name": "finding_evidence", "input": {"fingerprint": fingerprint}})
        turns[1].append(
            {"name": "get_object", "input": {"kind": kind, **where, "name": name, **tag}}
        )
        turns[2].append(
            {"name": "get_events", "input": {"kind": kind, **where, "name": name, **tag}}
        )
        if kind == "Pod":
            turns[3].append(
                {
                    "name": "get_logs",
                    "input": {"namespace": namespace, "pod": name, "previous": True, **tag},
                }
            )
        elif kind == "Deployment":
            turns[3].append(
                {"name": "rollout_history", "input": {**where, "deployment": name, **tag}}
            )
        elif kind == "Node":
            turns[3].append({"name": "node_detail", "input": {"name": name, **tag}})
    return [turn for turn in turns if turn]


@dataclass
class ToolScript:
    """Scripted tool use: turn ``i`` of a cycle's tool loop makes the calls ``plan(request)[i]``.

    The turn is told from the request itself (assistant tool turns since the newest cycle
    message), so the script survives daemon restarts and session reloads. ``truncate_turn``
    makes that turn stop with ``max_tokens`` in the middle of its last call (its input cut
    off). Calls are recorded in ``calls``.
    """

    plan: ToolPlan = default_plan
    truncate_turn: int | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def next_turn(
        self, request: dict[str, Any], ids: itertools.count[int]
    ) -> tuple[list[dict[str, Any]], str] | None:
        offered = {t["name"] for t in request.get("tools") or []}
        step = _tool_turns_this_cycle(request)
        steps = self.plan(request)
        if step >= len(steps):
            return None
        blocks: list[dict[str, Any]] = []
        for call in steps[step]:
            if call["name"] not in offered and not call.get("force", False):
                continue
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_fake{next(ids):08d}",
                    "name": call["name"],
                    "input": dict(call["input"]),
                }
            )
        if not blocks:
            return None
        self.calls.extend(blocks)
        if self.truncate_turn == step:
            blocks[-1]["input"] = {}
            return blocks, "max_tokens"
        return blocks, "tool_use"


def _tool_turns_this_cycle(request: dict[str, Any]) -> int:
    messages = request["messages"]
    start = 0
    for index, message in enumerate(messages):
        if message["role"] == "user" and any(
            marker in b.get("text", "")
            for b in _blocks(message)
            if b.get("type") == "text"
            for marker in ("<cycle ", "<question>")
        ):
            start = index
        elif message["role"] == "user" and isinstance(message["content"], str):
            if "<cycle " in message["content"] or "<question>" in message["content"]:
                start = index
    return sum(
        1
        for message in messages[start:]
        if message["role"] == "assistant"
        and any(b.get("type") == "tool_use" for b in _blocks(message))
    )


def _tool_results_this_cycle(request: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for message in request["messages"]:
        for block in _blocks(message):
            if block.get("type") != "tool_result" or block.get("is_error"):
                continue
            content = block.get("content")
            text = (
                content
                if isinstance(content, str)
                else " ".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
            )
            texts.append(text)
    return texts


def scripted_investigations(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Root causes for the incidents under investigation, quoting the tool results."""
    results = _tool_results_this_cycle(request)
    found: list[dict[str, Any]] = []
    for fingerprint, reason, subject in investigated(request):
        kind, namespace, name = _subject_parts(subject)
        quotes = [_quote(text, name) for text in results if name in text][:2]
        where = f"-n {namespace} " if namespace else ""
        found.append(
            {
                "fingerprint": fingerprint,
                "root_cause": {
                    "summary": f"{reason} on {subject}: diagnosed from the cluster's own data.",
                    "evidence": quotes,
                    "confidence": "medium" if quotes else "low",
                },
                "next_steps": [f"kubectl describe {kind.lower()} {where}{name}".strip()],
            }
        )
    return found


def _quote(text: str, name: str) -> str:
    body = text.split("\n", 1)[-1]
    at = max(0, body.find(name) - 40)
    return body[at : at + 160]


# --- HTTP ----------------------------------------------------------------------------------

_BEDROCK_INVOKE = re.compile(r"^/model/([^/]+)/invoke$")


def bedrock_body(body: dict[str, Any], model: str) -> dict[str, Any]:
    """Bedrock's InvokeModel shape: the model in the path, ``anthropic_version`` in the body."""
    version = body.get("anthropic_version")
    if not isinstance(version, str) or not version:
        raise invalid("anthropic_version: Field required")
    if "model" in body:
        raise invalid("model: Extra inputs are not permitted")
    rest = {k: v for k, v in body.items() if k != "anthropic_version"}
    return {**rest, "model": urllib.parse.unquote(model)}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        fake = self.fake
        request_id = fake.next_request_id()
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = Recorded(path, headers, body if fake.record_bodies else None)
        with fake._lock:
            fake.records.append(record)
        try:
            fake.check_auth(headers)
            if not isinstance(body, dict):
                raise invalid("request body is not valid JSON")
            if path == "/v1/messages/count_tokens":
                self._json(200, fake.count_tokens(body), request_id, record)
                return
            bedrock = _BEDROCK_INVOKE.match(path)
            if bedrock is not None:
                body = bedrock_body(body, bedrock.group(1))
            elif path != "/v1/messages":
                raise ApiError(404, "not_found_error", f"Not found: {path}")
            fault = fake.take_fault()
            if fault is not None and self._fault(fault, request_id, record, body):
                return
            self._json(200, fake.messages(body), request_id, record)
        except ApiError as exc:
            if exc.status == 400:
                with fake._lock:
                    fake.stats.rejected += 1
            self._error(exc, request_id, record)

    def _fault(self, fault: Fault, request_id: str, record: Recorded, body: Any) -> bool:
        """Act out ``fault``; ``False`` lets the request proceed (slow answers)."""
        kind = fault.kind
        if kind == "rate_limit":
            raise ApiError(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                headers={"retry-after-ms": str(fault.retry_after_ms), "retry-after": "0"},
            )
        if kind == "spend_limit":
            raise ApiError(
                429,
                "rate_limit_error",
                "You have reached your specified workspace API usage limits.",
                error_code=SPEND_LIMIT_CODE,
                headers={"retry-after-ms": str(fault.retry_after_ms)},
            )
        if kind == "overloaded":
            raise ApiError(529, "overloaded_error", "Overloaded")
        if kind == "server_error":
            raise ApiError(500, "api_error", "Internal server error")
        if kind == "bad_request":
            raise invalid("messages: something the fake was told to reject")
        if kind == "context_too_long":
            raise invalid(
                f"prompt is too long: {self.fake.context_window + 1} tokens > "
                f"{self.fake.context_window} maximum"
            )
        if kind == "slow":
            time.sleep(fault.delay_seconds)
            return False
        if kind == "reset":
            self._reset()
            return True
        if kind == "html":
            # A proxy or gateway answering for the API: 200, but an HTML page, not a message.
            page = b"<html><head><title>Gateway</title></head><body>Please sign in</body></html>"
            self._send(200, page, request_id, record, content_type="text/html; charset=utf-8")
            return True
        if kind == "malformed":
            payload = b'{"id": "msg_broken", "type": "message", "content": [{"ty'
            self._send(200, payload, request_id, record)
            return True
        if kind == "invalid_answer":
            message = self.fake.messages(body)
            message["content"] = [{"type": "text", "text": "I think the cluster is fine."}]
            self._json(200, message, request_id, record)
            return True
        raise ValueError(f"unknown fault kind {kind!r}")

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send a TCP RST: the client sees a reset, not a clean EOF.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _error(self, exc: ApiError, request_id: str, record: Recorded) -> None:
        error: dict[str, Any] = {"type": exc.error_type, "message": exc.message}
        if exc.error_code is not None:
            error["details"] = {"error_code": exc.error_code}
        body = {"type": "error", "error": error, "request_id": request_id}
        self._json(exc.status, body, request_id, record, extra=exc.headers)

    def _json(
        self,
        status: int,
        body: Any,
        request_id: str,
        record: Recorded,
        extra: dict[str, str] | None = None,
    ) -> None:
        self._send(status, json.dumps(body).encode(), request_id, record, extra)

    def _send(
        self,
        status: int,
        payload: bytes,
        request_id: str,
        record: Recorded,
        extra: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", request_id)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Anthropic API on 127.0.0.1.")
    parser.add_argument("--api-key", default="test-key")
    args = parser.parse_args()
    fake = FakeAnthropic(api_key=args.api_key).serve()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.close()


FakeAnthropic.handler = _Handler

if __name__ == "__main__":
    main()
