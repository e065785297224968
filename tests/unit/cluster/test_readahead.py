"""The page chain: order, read-ahead, its memory bound, errors and stopping."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from k8s_monitor.cluster.readahead import PageChain
from k8s_monitor.cluster.transport import Response, TransportError

WAIT = 5.0  # seconds; generous for a loaded machine, never reached when things work


def _page(number: int, last: int) -> Response:
    token = f"t{number + 1}" if number < last else ""
    body = {"metadata": {"continue": token}, "items": [{"n": number}]}
    return Response(200, orjson.dumps(body))


class _Pages:
    """``fetch`` for a list of ``last + 1`` pages; records the tokens asked for."""

    def __init__(self, last: int, fail_at: str | None = None, status_at: str | None = None):
        self.last = last
        self.fail_at = fail_at
        self.status_at = status_at
        self.asked: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, token: str) -> Response:
        with self.changed:
            self.asked.append(token)
            self.changed.notify_all()
        if token == self.fail_at:
            raise TransportError("connection reset", timeout=False)
        if token == self.status_at:
            return Response(410, b'{"kind":"Status","code":410}')
        return _page(int(token[1:]) if token else 0, self.last)

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.asked) >= count, WAIT), self.asked


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def _numbers(chain: PageChain) -> list[int]:
    numbers = []
    while True:
        response = chain.next()
        numbers.append(orjson.loads(response.body)["items"][0]["n"])
        if chain.following is None:
            return numbers


def test_pages_arrive_in_order_and_the_chain_ends_at_the_last(
    executor: ThreadPoolExecutor,
) -> None:
    fetch = _Pages(last=4)
    chain = PageChain(executor, fetch, "")
    assert _numbers(chain) == [0, 1, 2, 3, 4]
    assert fetch.asked == ["", "t1", "t2", "t3", "t4"]
    with pytest.raises(RuntimeError, match="ended"):
        chain.next()


def test_a_chain_starts_from_its_token(executor: ThreadPoolExecutor) -> None:
    chain = PageChain(executor, _Pages(last=3), "t2")
    assert _numbers(chain) == [2, 3]


def test_the_next_page_is_requested_before_the_reader_asks_for_it(
    executor: ThreadPoolExecutor,
) -> None:
    fetch = _Pages(last=5)
    chain = PageChain(executor, fetch, "")
    chain.next()
    fetch.wait_for(2)  # page 1 is on its way while page 0 would be decoding
    assert chain.following == "t1"
    chain.close()


def test_at_most_two_pages_are_fetched_ahead_of_a_reader_that_stalls(
    executor: ThreadPoolExecutor,
) -> None:
    fetch = _Pages(last=50)
    chain = PageChain(executor, fetch, "")
    fetch.wait_for(2)
    time.sleep(0.2)  # room to overrun the bound, if the chain did
    assert len(fetch.asked) == 2  # one queued, one held waiting for room
    chain.next()
    fetch.wait_for(3)
    time.sleep(0.2)
    assert len(fetch.asked) == 3
    chain.close()


def test_a_fetch_error_is_raised_to_the_reader_and_ends_the_chain(
    executor: ThreadPoolExecutor,
) -> None:
    chain = PageChain(executor, _Pages(last=5, fail_at="t2"), "")
    chain.next()
    chain.next()
    with pytest.raises(TransportError, match="connection reset"):
        chain.next()
    assert chain.following is None


def test_a_non_200_page_ends_the_chain(executor: ThreadPoolExecutor) -> None:
    fetch = _Pages(last=5, status_at="t1")
    chain = PageChain(executor, fetch, "")
    chain.next()
    response = chain.next()
    assert response.status == 410
    assert chain.following is None
    time.sleep(0.1)
    assert fetch.asked == ["", "t1"]


def test_close_releases_a_fetcher_blocked_on_a_full_queue() -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    fetch = _Pages(last=1000)
    chain = PageChain(pool, fetch, "")
    fetch.wait_for(2)  # the fetcher now waits for room
    chain.close()
    # The single worker is free again: a later task runs, and shutdown does not hang.
    assert pool.submit(lambda: "free").result(timeout=WAIT) == "free"
    pool.shutdown(wait=True)
    assert len(fetch.asked) <= 3
