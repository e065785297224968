"""The real Alertmanager (Debian package ``prometheus-alertmanager``) on loopback ports.

Its receiver is a local webhook (``tests.fakes.webhook_receiver``); group_wait and
group_interval are tiny so a notification arrives within a fraction of a second. Peers gossip on
their own loopback cluster ports, with a short peer timeout, so an HA pair settles in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
ALERTMANAGER_PACKAGE = "prometheus-alertmanager"
PROMTOOL_PACKAGE = "prometheus"

CONFIG = """\
route:
  receiver: hook
  group_by: [{group_by}]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


def which(binaries: tuple[str, ...]) -> str | None:
    return next((path for b in binaries if (path := shutil.which(b))), None)


def require_tool(binaries: tuple[str, ...], package: str) -> str:
    """The tool's path; otherwise skip, naming the package, or fail under CI=true."""
    path = which(binaries)
    if path is not None:
        return path
    message = f"{binaries[0]} not found: install the Debian package {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing tool fails the run; .ci/run installs it)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Alertmanager:
    """One Alertmanager process; ``start``/``stop`` may be repeated (a restart keeps the port)."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        receiver_url: str,
        *,
        cluster_port: int | None = None,
        peers: tuple[int, ...] = (),
        group_by: str = "cluster, alertname, fingerprint",
        group_wait: str = "50ms",
        group_interval: str = "100ms",
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.cluster_port = cluster_port
        self.peers = peers
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "alertmanager.yml"
        self.config.write_text(
            CONFIG.format(
                url=receiver_url,
                group_by=group_by,
                group_wait=group_wait,
                group_interval=group_interval,
            )
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        args = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        if self.cluster_port is None:
            args.append("--cluster.listen-address=")
        else:
            args += [
                f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
                f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
                "--cluster.peer-timeout=1s",
                "--cluster.gossip-interval=50ms",
                "--cluster.pushpull-interval=500ms",
                "--cluster.settle-timeout=1s",
                *(f"--cluster.peer=127.0.0.1:{p}" for p in self.peers),
            ]
        log = (self.directory / "alertmanager.log").open("ab")
        self._process = subprocess.Popen(args, stdout=log, stderr=log)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.directory / "alertmanager.log").read_text(errors="replace")
                raise RuntimeError(f"alertmanager exited: {log[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError("alertmanager did not become ready")

    def kill(self) -> None:
        """SIGKILL: no final snapshot of its notification log, as in a node crash."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    # --- its API, as a person with amtool would use it -----------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def silence(self, matchers: dict[str, str], minutes: float = 30) -> str:
        now = time.time()
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": _rfc3339(now - 1),
            "endsAt": _rfc3339(now + minutes * 60),
            "createdBy": "test",
            "comment": "maintenance",
        }
        answer = self.api("POST", "/api/v2/silences", body)
        silence_id: str = answer["silenceID"]
        return silence_id

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"filter={k}%3D%22{v}%22" for k, v in filters.items())
        found: list[dict[str, Any]] = self.api("GET", f"/api/v2/alerts?{query}")
        return found


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll until ``condition`` holds; returns at once when it does (the deadline is for load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def notified_alerts(bodies: list[Any], cluster: str) -> list[dict[str, Any]]:
    """Every alert in Alertmanager's webhook notifications for ``cluster``, in arrival order."""
    return [
        alert
        for body in bodies
        if isinstance(body, dict)
        for alert in body.get("alerts", [])
        if alert.get("labels", {}).get("cluster") == cluster
    ]
