"""Prompt-cache policy: where the breakpoints go and which TTL pays off.

A small cost model, in units of the model's input price P per token:
- an uncached input token costs 1;
- writing a token into the cache costs 1.25 (TTL 5m) or 2 (TTL 1h), once;
- reading it back costs 0.1, every later request that arrives before the entry expires (each
  read refreshes the TTL).
Persistent mode resends the whole conversation every cycle, so each token is written once and
then read every following cycle: after n cycles it has cost w + 0.1 n instead of n. That pays
as soon as the next cycle comes before expiry, and only then. Hence the TTL follows the
monitoring interval: up to 4 minutes (margin under 5m) use 5m; up to 55 minutes use 1h; beyond
that the entry would expire before it is read, a write that is never read is pure cost
(1.25-2x), so no breakpoints at all.

Breakpoints (the API allows at most 4): the end of the system prompt (stable forever), the end
of the previous assistant turn (the longest prefix the previous request could have written
covers up to the previous user message; this one lets the lookup find it cheaply), and the
end of the new user message (written now, read next cycle). Prefix order is tools -> system ->
messages and any byte change before a breakpoint misses, so nothing before it may vary.
"""

from __future__ import annotations

from typing import Any, Literal

MAX_BREAKPOINTS = 4
CacheTTL = Literal["5m", "1h"]

_FIVE_MINUTE_LIMIT = 4.0
_ONE_HOUR_LIMIT = 55.0


def cache_ttl_for_interval(interval_minutes: float) -> CacheTTL | None:
    """The TTL that pays off for requests ``interval_minutes`` apart, or ``None``."""
    if interval_minutes <= _FIVE_MINUTE_LIMIT:
        return "5m"
    if interval_minutes <= _ONE_HOUR_LIMIT:
        return "1h"
    return None


def cache_control(ttl: CacheTTL) -> dict[str, Any]:
    return {"type": "ephemeral", "ttl": ttl}


def place_breakpoints(
    system: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    ttl: CacheTTL | None,
    *,
    history: bool = True,
    tools: list[dict[str, Any]] | None = None,
) -> None:
    """Mark the system prompt, the last assistant turn and the last message (in place).

    ``history=False`` (stateless cycles, whose one message changes every time) marks only
    the system prompt: writing a prefix that is never read again is pure cost. Tool
    definitions come first in the prefix, so the system prompt's breakpoint covers them;
    without a system prompt the last tool carries it.
    """
    if ttl is None:
        return
    marker = cache_control(ttl)
    if system:
        system[0]["cache_control"] = dict(marker)
    elif tools:
        tools[-1]["cache_control"] = dict(marker)
    if not history:
        return
    if messages:
        messages[-1]["content"][-1]["cache_control"] = dict(marker)
    for message in reversed(messages[:-1]):
        if message["role"] == "assistant":
            message["content"][-1]["cache_control"] = dict(marker)
            break


def count_breakpoints(
    system: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
) -> int:
    blocks = [
        *(tools or ()),
        *system,
        *(b for m in messages for b in m["content"] if isinstance(b, dict)),
    ]
    return sum(1 for block in blocks if "cache_control" in block)
