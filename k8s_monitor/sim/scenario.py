"""Scenarios: load a YAML file (or a shipped name) and render the cluster at any step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import yaml

from k8s_monitor.errors import ConfigurationError
from k8s_monitor.sim.dsl import ScenarioIn, StepIn
from k8s_monitor.sim.render import Renderer
from k8s_monitor.sim.view import StaticView
from k8s_monitor.sim.world import apply_change, build_world

_PACKAGE = "k8s_monitor.sim.scenarios"
RV_PER_STEP = 100_000


class Scenario:
    """A scenario file: a ``ClusterSource`` whose steps are the file's steps."""

    def __init__(self, spec: ScenarioIn, *, start: datetime | None = None) -> None:
        if not spec.steps:
            spec.steps = [StepIn(name="baseline")]
        self.spec = spec
        self._start = start or _parse_start(spec.clock.start)
        # Validate every change once, up front: a bad scenario fails at load, not mid-demo.
        self._check()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def step_names(self) -> Sequence[str]:
        return [step.name for step in self.spec.steps]

    @property
    def step_seconds(self) -> float:
        return self.spec.clock.step_seconds

    @property
    def fixed_start(self) -> datetime | None:
        return self._start

    @property
    def has_metrics(self) -> bool:
        return self.spec.metrics

    @property
    def version_info(self) -> dict[str, Any]:
        version = self.spec.version
        return {
            "major": version.major,
            "minor": version.minor,
            "gitVersion": version.git_version,
            "gitCommit": "1e2a5b3c9f0d4e6a8b7c5d3e1f0a9b8c7d6e5f4a",
            "gitTreeState": "clean",
            "buildDate": "2024-10-10T20:11:32Z",
            "goVersion": "go1.22.6",
            "compiler": "gc",
            "platform": version.platform,
        }

    def view(self, step: int, now: datetime) -> StaticView:
        """The cluster after ``step`` (0-based), as seen at ``now``."""
        step = max(0, min(step, len(self.spec.steps) - 1))
        world = build_world(self.spec)
        for index in range(step + 1):
            for change in self.spec.steps[index].changes:
                apply_change(world, change, index * self.step_seconds, self.step_seconds)
        rv = (step + 1) * RV_PER_STEP
        return Renderer(self.spec, world, step * self.step_seconds, now, rv).render()

    def _check(self) -> None:
        world = build_world(self.spec)
        for index, step in enumerate(self.spec.steps):
            for change in step.changes:
                apply_change(world, change, index * self.step_seconds, self.step_seconds)


def _parse_start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigurationError("scenario", f"clock.start {text!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise ConfigurationError("scenario", f"clock.start {text!r} needs a time zone")
    return moment


def shipped_scenarios() -> list[str]:
    """Names of the scenarios bundled with the package."""
    folder = resources.files(_PACKAGE)
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_scenario(
    name_or_path: str | Path, *, start: datetime | None = None, step_seconds: float | None = None
) -> Scenario:
    """Load a shipped scenario by name, or a scenario YAML file by path.

    ``start`` fixes the scenario clock (reproducible timestamps); ``step_seconds`` overrides
    how far each step moves it.
    """
    text, origin = _read(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError("scenario", f"{origin}: invalid YAML: {exc}") from exc
    try:
        spec = msgspec.convert(data, ScenarioIn)
    except msgspec.ValidationError as exc:
        raise ConfigurationError("scenario", f"{origin}: {exc}") from exc
    if step_seconds is not None:
        spec.clock.step_seconds = step_seconds
    return Scenario(spec, start=start)


def _read(name_or_path: str | Path) -> tuple[str, str]:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        try:
            return candidate.read_text(encoding="utf-8"), str(candidate)
        except OSError as exc:
            raise ConfigurationError("scenario", f"cannot read {candidate}: {exc}") from exc
    name = str(name_or_path)
    resource = resources.files(_PACKAGE).joinpath(f"{name}.yaml")
    if not resource.is_file():
        known = ", ".join(shipped_scenarios())
        raise ConfigurationError("scenario", f"no scenario named {name!r} (shipped: {known})")
    return resource.read_text(encoding="utf-8"), name
