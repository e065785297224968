"""Fixtures for the simulator's tests: servers on port 0 and a tiny HTTP client."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from k8s_monitor.sim import Scenario, SimServer, load_scenario

FIXED_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def http(
    server: SimServer,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    request = urllib.request.Request(server.url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


@pytest.fixture(scope="session")
def incident_day() -> Scenario:
    return load_scenario("incident-day", start=FIXED_START)


@pytest.fixture
def server(incident_day: Scenario) -> Iterator[SimServer]:
    with SimServer(incident_day) as sim:
        yield sim
        assert sim.internal_errors == 0, "the simulator answered a request with its own bug"
