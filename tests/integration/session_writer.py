"""A process that saves one large session over and over, for the kill -9 crash test.

``python -m tests.integration.session_writer DIR START`` saves generation START, prints
``ready`` and then saves START+1, START+2, ... until killed. ``expected(gen)`` is what
generation ``gen`` holds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SESSION_ID = "crash"
_BASE_TURNS = 300
_TEXT = "pod api-7d9 in namespace shop restarted; node ip-10-0-1-17 memory pressure; " * 20


def expected(generation: int) -> list[dict[str, Any]]:
    """Deterministic history of ``generation``: a large shared prefix and a varying tail."""
    history: list[dict[str, Any]] = [{"role": "system", "content": "You watch a cluster."}]
    turns = _BASE_TURNS + generation % 7
    for cycle in range(turns):
        history.append({"role": "user", "content": f"{cycle} {_TEXT}", "meta": {"cycle": cycle}})
        history.append({"role": "assistant", "content": f"gen {generation} cycle {cycle} noted"})
    return history


def main() -> None:
    from k8s_monitor.sessions import SessionManager

    directory, start = Path(sys.argv[1]), int(sys.argv[2])
    manager = SessionManager(directory, 2_000_000)
    generation = start
    # The first save of a process also has the guard read every text once (about a second for
    # this history); the kills are meant for the saves a running daemon makes, so "ready" comes
    # after it.
    manager.save_session(SESSION_ID, expected(generation), {"gen": generation})
    generation += 1
    print("ready", flush=True)
    while True:
        manager.save_session(SESSION_ID, expected(generation), {"gen": generation})
        generation += 1


if __name__ == "__main__":
    main()
