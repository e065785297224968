"""Run ``k8s-monitor`` as a real subprocess and read its JSON log lines as they come.

Deadlines are generous on purpose: a fresh interpreter importing the daemon costs seconds of CPU,
and on a loaded machine (CI runners, ``pytest -n``) that becomes tens of seconds of wall time.
Waits return as soon as the event arrives, so a long deadline costs nothing when all is well.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import clean_env

# Start-up plus a first cycle, or shutdown after SIGTERM, on a machine busy with other work.
PROCESS_DEADLINE = 180.0


class DaemonProcess:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "k8s_monitor", *args],
            env=clean_env(LOG_FORMAT="json", **env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            self._lines.put(event)

    def wait_for(
        self, event: str, timeout: float = PROCESS_DEADLINE, **fields: Any
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    break
                continue
            if item.get("event") == event and all(item.get(k) == v for k, v in fields.items()):
                return item
        raise AssertionError(f"no {event!r} {fields} within {timeout}s; output:\n{self.output}")

    @property
    def output(self) -> str:
        return "".join(self.raw[-80:])

    def wait(self, timeout: float = PROCESS_DEADLINE) -> int:
        """Wait for the process to exit on its own; its output is complete when this returns.

        The reader thread may still hold the last lines when the process has exited, so it is
        joined (it ends at EOF) before anyone reads ``output``. A process that outlives the
        deadline is killed, never leaked into the next test.
        """
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._reader.join(timeout=30)
        return code

    def stop(self, timeout: float = PROCESS_DEADLINE) -> int:
        """SIGTERM, then wait for the daemon's own orderly exit and return its code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.wait(timeout)
