"""Reading a paged list one page ahead of its decoding, so the apiserver and the decoder overlap.

A page's continue token sits in its first bytes, so the next request can go out the moment a
page arrives. Handing that request to a helper from the decoding thread overlaps nothing:
decoding a page is one C call that holds the GIL throughout, so the helper cannot even send
the request until the decode has finished. Here one thread receives a page, peeks its token and
sends the next request, over and over, while the reader decodes what it has queued.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from k8s_monitor.cluster.pages import peek_continue
from k8s_monitor.cluster.transport import Response

Fetch = Callable[[str], Response]  # continue token ("" for the first page) -> the page


class PageChain:
    """The pages of one list from ``token`` on, fetched ahead on an ``executor`` thread.

    The chain ends after the first response that does not lead on: the last page, a non-200,
    or a body whose token cannot be read. An exception from ``fetch`` ends it too and is raised
    from :meth:`next`. At most three pages are held: one being decoded, one queued and one
    being received, so memory follows the page size.
    """

    def __init__(self, executor: Executor, fetch: Fetch, token: str) -> None:
        self._queue: queue.Queue[tuple[Response, str | None] | Exception] = queue.Queue(1)
        self._stop = threading.Event()
        self._ended = False
        self.following: str | None = None  # the token being fetched after the last page read
        executor.submit(self._run, fetch, token)

    def next(self) -> Response:
        """The next page; blocks until it has arrived. Raises what ``fetch`` raised."""
        if self._ended:
            raise RuntimeError("the page chain has ended; start a new one")
        item = self._queue.get()
        if isinstance(item, Exception):
            self._ended, self.following = True, None
            raise item
        response, self.following = item
        self._ended = self.following is None
        return response

    def close(self) -> None:
        """Stop fetching. Does not wait: a request in flight ends within its own timeout."""
        self._stop.set()
        # A fetcher blocked on a full queue gets room for its one last page, sees the stop and
        # returns; one that is mid-request does the same when the answer comes.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _run(self, fetch: Fetch, token: str) -> None:
        try:
            while not self._stop.is_set():
                response = fetch(token)
                following = peek_continue(response.body) if response.status == 200 else None
                self._queue.put((response, following or None))
                if not following:
                    return
                token = following
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
            self._queue.put(exc)
