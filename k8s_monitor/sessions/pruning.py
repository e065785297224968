"""Pruning: shrink a history to a token budget, keeping what matters and what the API accepts.

History is cut in *turns* (a user message and everything answering it, tool calls included),
never between a ``tool_use`` and its ``tool_result``. Smart pruning keeps system messages, the
latest turns and turns mentioning a critical keyword (whole words), in their original order, and
replaces everything it drops with one compaction summary. All functions here are pure: they
return new lists and never modify the caller's messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from k8s_monitor.analysis.incidents import Ledger
from k8s_monitor.memo import TextMemo
from k8s_monitor.sessions.compaction import build_compaction
from k8s_monitor.sessions.messages import (
    KIND_COMPACTION,
    KIND_COMPACTION_ACK,
    Message,
    as_blocks,
    content_text,
    is_empty,
    kind_of,
    tool_result_ids,
    tool_use_ids,
)
from k8s_monitor.sessions.tokens import DEFAULT_CHARS_PER_TOKEN, TokenCounter

DEFAULT_KEYWORDS = ("critical", "escalation", "failed", "error", "down", "outage")
SIMPLE_KEEP_LAST = 50
SMART_KEEP_RECENT = 30
TRUNCATION_MARK = "\n[... truncated {count} characters to fit the context budget]"
# What the keyword memo may keep alive by default: the text of a 1M-token history.
HISTORY_CHARS = int(1_000_000 * DEFAULT_CHARS_PER_TOKEN)


@dataclass(frozen=True)
class PruneResult:
    history: list[Message]
    dropped_count: int  # messages of the input that are not in the output
    compacted: bool  # a compaction summary was written
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class PrunePolicy:
    target_tokens: int
    keep_recent: int = SMART_KEEP_RECENT
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    compact: bool = True


@dataclass
class _Turn:
    indices: list[int] = field(default_factory=list)
    tokens: int = 0
    summary: bool = False  # an earlier compaction summary


class KeywordMatcher:
    """Whole-word, case-insensitive: ``down`` matches "node down", not "breakdown".

    Substring search first (fast on megabytes of history), word boundaries checked only
    around the hits; a regular expression over the whole history is an order slower.
    """

    def __init__(self, keywords: Iterable[str], *, cache_chars: int = HISTORY_CHARS) -> None:
        self.words = tuple(sorted({k.strip().lower() for k in keywords if k.strip()}))
        # Keyed by content, so answers outlive the history object they came from: the daemon
        # loads the session afresh each cycle, and a message is scanned once, not per prune.
        self._memo = TextMemo(self._scan, cache_chars)

    def __bool__(self) -> bool:
        return bool(self.words)

    def search(self, text: str) -> bool:
        return self._memo(text)

    @property
    def held_chars(self) -> int:
        """Characters of message text the memo keeps alive (at most ``cache_chars``)."""
        return self._memo.held_chars

    def _scan(self, text: str) -> bool:
        lowered = text.lower()
        for word in self.words:
            start = lowered.find(word)
            while start != -1:
                end = start + len(word)
                if not _word_char(lowered, start - 1) and not _word_char(lowered, end):
                    return True
                start = lowered.find(word, start + 1)
        return False


def _word_char(text: str, index: int) -> bool:
    if index < 0 or index >= len(text):
        return False
    char = text[index]
    return char.isalnum() or char == "_"


def keyword_pattern(keywords: Iterable[str]) -> KeywordMatcher | None:
    matcher = KeywordMatcher(keywords)
    return matcher if matcher else None


def is_critical(message: Mapping[str, Any], pattern: KeywordMatcher | None) -> bool:
    if pattern is None:
        return False
    return pattern.search(content_text(message.get("content")))


def simple_prune(
    history: Sequence[Message],
    counter: TokenCounter,
    *,
    max_tokens: int,
    keep_last: int = SIMPLE_KEEP_LAST,
) -> list[Message]:
    """System messages plus the latest ``keep_last`` others, trimmed further to ``max_tokens``."""
    policy = PrunePolicy(
        target_tokens=max_tokens, keep_recent=keep_last, keywords=(), compact=False
    )
    return prune_history(history, policy, counter).history


def prune_history(
    history: Sequence[Message],
    policy: PrunePolicy,
    counter: TokenCounter,
    ledger: Ledger | None = None,
    *,
    matcher: KeywordMatcher | None = None,
) -> PruneResult:
    """Keep system, latest turn, recent turns, then critical turns, within ``target_tokens``."""
    tokens = [counter.message_tokens(m) for m in history]
    tokens_before = sum(tokens)
    turns = _split_turns(history, tokens)
    if not policy.compact:
        # Without compaction an earlier summary is just an old turn: kept if recent enough.
        for item in turns:
            item.summary = False
    regular = [t for t in turns if not t.summary]
    summaries = [t for t in turns if t.summary]
    if not regular:
        kept_history = _fit_mandatory(normalize_for_api(list(history)), counter, policy)
        return _result(history, kept_history, False, tokens_before, counter)

    pattern = matcher if matcher is not None else keyword_pattern(policy.keywords)
    last = regular[-1]
    window = policy.keep_recent - len(last.indices)
    recent, critical = _candidates(history, regular[:-1], window, pattern)
    fixed = sum(tokens[i] for i, m in enumerate(history) if m.get("role") == "system")
    fixed += last.tokens

    reserve = 0
    if policy.compact and (len(regular) > 1 or summaries):
        reserve = _tokens_of(_summary_for(history, regular[:-1], summaries, ledger), counter)
    chosen = _choose(recent, critical, policy.target_tokens - fixed - reserve)

    while True:
        chosen_ids = {id(c) for c in chosen}
        dropped = [t for t in regular[:-1] if id(t) not in chosen_ids]
        summary: list[Message] = []
        keep_old_summaries = False
        if policy.compact and dropped:
            summary = _summary_for(history, dropped, summaries, ledger)
        elif policy.compact and summaries:
            keep_old_summaries = True
        total = fixed + sum(t.tokens for t in chosen) + _tokens_of(summary, counter)
        if keep_old_summaries:
            total += sum(t.tokens for t in summaries)
        if total <= policy.target_tokens or not chosen:
            break
        chosen.pop()  # lowest priority goes first: oldest critical, then oldest recent

    kept = {i for t in [*chosen, last] for i in t.indices}
    if keep_old_summaries:
        kept.update(i for t in summaries for i in t.indices)
    insert_at = min((t.indices[0] for t in [*dropped, *summaries]), default=None)
    output = _assemble(history, kept, summary, insert_at if summary else None)
    output = _fit_mandatory(normalize_for_api(output), counter, policy)
    return _result(history, output, bool(summary), tokens_before, counter)


def _result(
    history: Sequence[Message],
    output: list[Message],
    compacted: bool,
    tokens_before: int,
    counter: TokenCounter,
) -> PruneResult:
    originals = {id(m) for m in history}
    survivors = sum(1 for m in output if id(m) in originals)
    return PruneResult(
        history=output,
        dropped_count=len(history) - survivors,
        compacted=compacted,
        tokens_before=tokens_before,
        tokens_after=counter.count(output),
    )


def _split_turns(history: Sequence[Message], tokens: list[int]) -> list[_Turn]:
    turns: list[_Turn] = []
    for index, message in enumerate(history):
        role = message.get("role")
        if role == "system":
            continue
        kind = kind_of(message)
        starts = (
            not turns
            or kind == KIND_COMPACTION
            or (role == "user" and not tool_result_ids(message) and kind != KIND_COMPACTION_ACK)
        )
        if starts:
            turns.append(_Turn(summary=kind == KIND_COMPACTION))
        turns[-1].indices.append(index)
        turns[-1].tokens += tokens[index]
    return turns


def _candidates(
    history: Sequence[Message],
    older: list[_Turn],
    keep_recent: int,
    pattern: KeywordMatcher | None,
) -> tuple[list[_Turn], list[_Turn]]:
    """Turns within the last ``keep_recent`` messages newest first, then older critical ones."""
    recent: list[_Turn] = []
    remaining = keep_recent
    position = len(older) - 1
    while position >= 0 and remaining > 0:
        turn = older[position]
        recent.append(turn)
        remaining -= len(turn.indices)
        position -= 1
    critical = [
        turn
        for turn in reversed(older[: position + 1])
        if any(is_critical(history[i], pattern) for i in turn.indices)
    ]
    return recent, critical


def _choose(recent: list[_Turn], critical: list[_Turn], budget: int) -> list[_Turn]:
    """Greedy by priority; recent turns stay contiguous, critical ones may skip a big turn."""
    chosen: list[_Turn] = []
    used = 0
    for turn in recent:
        if used + turn.tokens > budget:
            break
        chosen.append(turn)
        used += turn.tokens
    for turn in critical:
        if used + turn.tokens <= budget:
            chosen.append(turn)
            used += turn.tokens
    return chosen


def _summary_for(
    history: Sequence[Message],
    dropped: list[_Turn],
    summaries: list[_Turn],
    ledger: Ledger | None,
) -> list[Message]:
    dropped_messages = [history[i] for t in dropped for i in t.indices]
    earlier = [
        history[i] for t in summaries for i in t.indices if kind_of(history[i]) == KIND_COMPACTION
    ]
    return build_compaction(dropped_messages, earlier, ledger)


def _tokens_of(messages: list[Message], counter: TokenCounter) -> int:
    return counter.count(messages)


def _assemble(
    history: Sequence[Message], kept: set[int], summary: list[Message], insert_at: int | None
) -> list[Message]:
    output: list[Message] = []
    for index, message in enumerate(history):
        if index == insert_at:
            output.extend(summary)
        if message.get("role") == "system" or index in kept:
            output.append(message)
    return output


# --- API validity ------------------------------------------------------------------------------


def normalize_for_api(history: list[Message]) -> list[Message]:
    """Make ``history`` acceptable to the Messages API without reordering it.

    Drops empty messages and leading assistant messages, pairs every ``tool_result`` with the
    ``tool_use`` right before it (orphans go), and merges consecutive same-role messages. Runs
    to a fixed point because each repair can expose another.
    """
    current = list(history)
    while True:
        repaired = _merge_same_role(_pair_tools(_drop_invalid(current)))
        if len(repaired) == len(current) and all(
            a is b for a, b in zip(repaired, current, strict=True)
        ):
            return repaired
        current = repaired


def _drop_invalid(history: list[Message]) -> list[Message]:
    output: list[Message] = []
    seen_user = False
    for message in history:
        role = message.get("role")
        if role == "system":
            output.append(message)
            continue
        if is_empty(message.get("content")) or (role == "assistant" and not seen_user):
            continue
        seen_user = seen_user or role == "user"
        output.append(message)
    return output


def _pair_tools(history: list[Message]) -> list[Message]:
    """Drop tool_result blocks without a matching tool_use just before, and vice versa."""
    conversation = [i for i, m in enumerate(history) if m.get("role") != "system"]
    replaced: dict[int, Message] = {}
    for position, index in enumerate(conversation):
        message = history[index]
        previous = history[conversation[position - 1]] if position > 0 else None
        following = (
            history[conversation[position + 1]] if position + 1 < len(conversation) else None
        )
        if message.get("role") == "user" and tool_result_ids(message):
            allowed = set(tool_use_ids(previous)) if previous is not None else set()
            fixed = _keep_blocks(message, "tool_result", "tool_use_id", allowed)
        elif message.get("role") == "assistant" and tool_use_ids(message) and following:
            fixed = _keep_blocks(message, "tool_use", "id", set(tool_result_ids(following)))
        else:
            continue
        if fixed is not message:
            replaced[index] = fixed
    if not replaced:
        return history
    return [replaced.get(i, m) for i, m in enumerate(history)]


def _keep_blocks(message: Message, kind: str, key: str, allowed: set[str]) -> Message:
    content = message["content"]
    kept = [
        b
        for b in content
        if not (isinstance(b, dict) and b.get("type") == kind and str(b.get(key)) not in allowed)
    ]
    if len(kept) == len(content):
        return message
    return {**message, "content": kept}


def _merge_same_role(history: list[Message]) -> list[Message]:
    output: list[Message] = []
    last_conversation: int | None = None
    for message in history:
        role = message.get("role")
        if role == "system":
            output.append(message)
            continue
        if last_conversation is not None and output[last_conversation].get("role") == role:
            output[last_conversation] = _merge_two(output[last_conversation], message)
            continue
        output.append(message)
        last_conversation = len(output) - 1
    return output


def _merge_two(first: Message, second: Message) -> Message:
    a, b = first.get("content"), second.get("content")
    if isinstance(a, str) and isinstance(b, str):
        content: Any = f"{a}\n\n{b}"
    else:
        content = [*as_blocks(a), *as_blocks(b)]
        if first.get("role") == "user":
            # The API wants tool results first in a user message.
            content.sort(key=lambda blk: 0 if _is_tool_result(blk) else 1)
    return {**second, **first, "content": content}


def _is_tool_result(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_result"


# --- last resort: truncate what must be kept ---------------------------------------------------


def _fit_mandatory(
    history: list[Message], counter: TokenCounter, policy: PrunePolicy
) -> list[Message]:
    """Cut the longest texts when system messages and the latest turn alone exceed the budget."""
    output = list(history)
    for _ in range(4 * len(output) + 4):
        excess = counter.count(output) - policy.target_tokens
        if excess <= 0:
            break
        index = _longest_text(output)
        if index is None:
            break
        output[index] = _truncate(output[index], excess, counter)
    return output


def _longest_text(history: list[Message]) -> int | None:
    best, best_len = None, 0
    for index, message in enumerate(history):
        length = len(content_text(message.get("content")))
        if length > best_len:
            best, best_len = index, length
    return best if best_len > 1 else None


def _truncate(message: Message, excess_tokens: int, counter: TokenCounter) -> Message:
    cut = math.ceil((excess_tokens + 1) * counter.chars_per_token / counter.ratio) + 64
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": _cut_text(content, cut)}
    blocks = list(as_blocks(content))
    order = sorted(
        (i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("type") == "text"),
        key=lambda i: -len(str(blocks[i].get("text", ""))),
    )
    if not order:
        return message
    first = order[0]
    blocks[first] = {**blocks[first], "text": _cut_text(str(blocks[first]["text"]), cut)}
    return {**message, "content": blocks}


def _cut_text(text: str, cut: int) -> str:
    keep = max(1, len(text) - cut - len(TRUNCATION_MARK) - 8)
    if keep >= len(text):
        return text
    return text[:keep] + TRUNCATION_MARK.format(count=len(text) - keep)
