"""A simulated cluster (the lookup world) and a toolbox reading it, for the investigation tests
of investigate/ and converse/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from k8s_monitor.cluster.kubeconfig import load_api_client
from k8s_monitor.cluster.lookup import ClusterLookup
from k8s_monitor.config import Settings
from k8s_monitor.investigate.tools import Toolbox
from k8s_monitor.redaction import Redactor
from k8s_monitor.sim import SimServer
from tests.unit.cluster.lookup_world import lookup_world


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimServer]:
    with SimServer(lookup_world(tmp_path)) as server:  # type: ignore[arg-type]
        server.goto(1)
        yield server


@pytest.fixture
def toolbox(sim: SimServer, tmp_path: Path) -> Iterator[Toolbox]:
    settings = Settings(kubeconfig=sim.write_kubeconfig(tmp_path / "kc"), _env_file=None)
    lookup = ClusterLookup(load_api_client(settings), Redactor(), timeout_seconds=2.0)
    yield Toolbox(lookup, Redactor().redact)
    lookup.close()
