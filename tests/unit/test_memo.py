"""The size-bounded text memo shared by redaction, the request builder and keyword scans."""

from __future__ import annotations

from k8s_monitor.memo import TextMemo


class _Counting:
    def __init__(self, result: object = None) -> None:
        self.calls: list[str] = []
        self.result = result

    def __call__(self, text: str) -> object:
        self.calls.append(text)
        return text if self.result is None else self.result


def test_a_repeated_text_is_computed_once_even_as_a_new_string_object() -> None:
    function = _Counting(result=True)
    memo = TextMemo(function, max_chars=1_000)
    first = "".join(["node ", "down"])
    second = "".join(["node", " down"])  # equal content, another object
    assert first is not second
    assert memo(first) is True and memo(second) is True
    assert function.calls == [first]


def test_least_recently_used_texts_go_first_and_the_bound_holds() -> None:
    function = _Counting(result=False)
    memo = TextMemo(function, max_chars=30)
    a, b, c, d = ("a" * 10, "b" * 10, "c" * 10, "d" * 10)
    for text in (a, b, c):
        memo(text)
    memo(a)  # a is now the most recent
    memo(d)  # over budget: b, the least recent, goes
    assert memo.held_chars == 30 and len(memo) == 3
    memo(a)
    memo(b)
    assert function.calls == [a, b, c, d, b]


def test_an_unchanged_text_counts_once_and_a_changed_one_twice() -> None:
    same = TextMemo(_Counting(), max_chars=100)
    same("x" * 40)
    assert same.held_chars == 40
    upper = TextMemo(str.upper, max_chars=100)
    upper("x" * 40)
    assert upper.held_chars == 80


def test_a_text_longer_than_the_budget_is_answered_but_not_kept() -> None:
    function = _Counting(result=1)
    memo = TextMemo(function, max_chars=10)
    memo("short")
    assert memo("y" * 50) == 1
    assert memo.held_chars == 5 and len(memo) == 1  # the short one was not evicted for it
