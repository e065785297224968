"""A memo of a function of text, bounded by the characters it keeps alive.

Redaction and keyword scans are pure functions of a string and meet the same strings again
and again (history resent every cycle, annotations repeated across replicas). A memo keeps
every text it answers for alive, so in a daemon it must be bounded by size: a count bound
lets long texts, or a steady trickle of one-off ones (log timestamps, report paths), pile up.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class TextMemo(Generic[R]):
    """Least-recently-used memo of ``function``, holding at most ``max_chars`` characters.

    A text longer than the whole budget is answered without being kept.
    """

    def __init__(self, function: Callable[[str], R], max_chars: int) -> None:
        self._function = function
        self._max_chars = max_chars
        self._held = 0
        self._entries: OrderedDict[str, R] = OrderedDict()

    def __call__(self, text: str) -> R:
        entries = self._entries
        if text in entries:
            entries.move_to_end(text)
            return entries[text]
        result = self._function(text)
        self.remember(text, result)
        return result

    def remember(self, text: str, result: R) -> None:
        """Hold ``result`` as the answer for ``text`` (known without calling the function)."""
        entries = self._entries
        size = _size(text, result)
        if size > self._max_chars or text in entries:
            return
        entries[text] = result
        self._held += size
        while self._held > self._max_chars:
            old_text, old_result = entries.popitem(last=False)
            self._held -= _size(old_text, old_result)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_chars(self) -> int:
        """Characters of text (and of text results) this memo keeps alive."""
        return self._held


def _size(text: str, result: object) -> int:
    # An unchanged text returned as its result is one string, not two.
    if isinstance(result, str) and result is not text:
        return len(text) + len(result)
    return len(text)
