"""What every per-kind renderer shares: the world, the clock, resource versions and the output."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.dsl import ScenarioIn
from k8s_monitor.sim.view import ContainerLogs
from k8s_monitor.sim.world import World

JSON = dict[str, Any]


@dataclass
class Output:
    """The objects rendered so far, per resource in the order they were written, and logs."""

    objects: dict[str, list[JSON]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str], ContainerLogs] = field(default_factory=dict)

    def add(self, resource: str, obj: JSON) -> None:
        self.objects.setdefault(resource, []).append(obj)


class RenderContext:
    """One moment of one world: ``now`` is scenario offset ``now_offset`` (seconds).

    Resource versions are handed out in rendering order, so the order in which kinds are
    rendered is part of the output.
    """

    def __init__(
        self, spec: ScenarioIn, world: World, now_offset: float, now: datetime, rv: int
    ) -> None:
        self.spec = spec
        self.world = world
        self.now_offset = now_offset
        self.now = now
        self.rv = rv
        self.out = Output()
        self._rv_counter = 0
        self._workers = sorted(n for n, s in world.nodes.items() if s.spec.role == "worker")
        self.all_nodes = sorted(world.nodes)

    def at(self, offset: float) -> datetime:
        """The wall-clock moment of scenario offset ``offset``."""
        return self.now - timedelta(seconds=self.now_offset - offset)

    def next_rv(self) -> str:
        self._rv_counter += 1
        return str(self.rv - 5000 + self._rv_counter)

    def place(self, *parts: str) -> str | None:
        """A worker node (any node if there are none) chosen stably from ``parts``."""
        nodes = self._workers or self.all_nodes
        if not nodes:
            return None
        return nodes[o.stable_int(len(nodes), *parts)]
