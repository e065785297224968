"""Planting text into the simulated cluster: container logs, events, annotations, container args.

``planted_scenario`` writes a scenario whose crash-looping container prints ``log_lines`` and
whose Warning events carry ``event_messages``; ``PlantingSource`` wraps any scenario and adds
annotations and container args to the pods of one workload, as a real manifest would carry them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from k8s_monitor.sim import load_scenario
from k8s_monitor.sim.view import ListCollection, StaticView
from tests.faults.harness import SCENARIO

JSON = dict[str, Any]
CRASHLOOP_STEP = 1


def planted_scenario(
    directory: Path,
    *,
    log_lines: Sequence[str],
    event_messages: Sequence[str],
    name: str = "planted",
) -> Path:
    """The small scenario with ``log_lines`` in checkout's crash log and one event per message."""
    spec = yaml.safe_load(SCENARIO.read_text())
    spec["name"] = name
    step = spec["steps"][CRASHLOOP_STEP]
    step["changes"][0]["crashloop"]["log"] = "\n".join(log_lines) + "\n"
    for number, message in enumerate(event_messages):
        step["changes"].append(
            {
                "lead_seconds": 0,  # after the previous look, so "since the last cycle" sees it
                "event": {
                    "kind": "Deployment",
                    "name": "checkout",
                    "namespace": "shop",
                    "reason": f"Planted{number:02d}",
                    "message": message,
                    "component": "deployment-controller",
                },
            }
        )
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


class PlantingSource:
    """A scenario whose ``namespace/workload`` pods carry extra annotations and container args."""

    def __init__(
        self,
        scenario_path: Path,
        *,
        workload: str,
        annotations: dict[str, str],
        args: list[str],
    ) -> None:
        self._inner = load_scenario(str(scenario_path))
        self._namespace, self._prefix = workload.split("/")
        self._annotations = annotations
        self._args = args
        # Warning events about the workload's pods, replaced between cycles by the test.
        self.event_messages: list[str] = []
        # When they happened: by default the next whole second after the step began (API
        # timestamps have whole seconds), so the next collection counts them as new.
        self.event_time: Callable[[datetime], datetime] = _next_second

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def view(self, step: int, now: datetime) -> StaticView:
        view = self._inner.view(step, now)
        pods = view.collections["pods"]
        planted = [self._plant(pod) for pod in pods.items(0, len(pods))]
        collections = {**view.collections, "pods": ListCollection(planted)}
        events = view.collections.get("events")
        if events is not None and self.event_messages:
            existing = list(events.items(0, len(events)))
            fresh = self._events(planted, existing, self.event_time(view.now))
            collections["events"] = ListCollection(existing + fresh)
        return StaticView(view.resource_version, view.now, collections, view.container_logs)

    def _events(self, pods: list[JSON], existing: list[JSON], at: datetime) -> list[JSON]:
        """One BackOff-like Warning per message, spread over the workload's pods."""
        template = next(
            (e for e in existing if e.get("involvedObject", {}).get("kind") == "Pod"), None
        )
        targets = [p for p in pods if self._mine(p)]
        if template is None or not targets:
            return []
        out = []
        for number, message in enumerate(self.event_messages):
            pod = targets[number % len(targets)]["metadata"]
            event = copy.deepcopy(template)
            event["metadata"]["name"] = f"{pod['name']}.planted{number:03d}"
            event["metadata"]["uid"] = f"planted-{number:03d}"
            event["involvedObject"].update(
                {"name": pod["name"], "namespace": pod["namespace"], "uid": pod.get("uid", "")}
            )
            event["message"] = message
            event["type"] = "Warning"
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            event["firstTimestamp"] = event["lastTimestamp"] = stamp
            event["metadata"]["creationTimestamp"] = stamp
            out.append(event)
        return out

    def _mine(self, pod: JSON) -> bool:
        meta = pod.get("metadata", {})
        return bool(
            meta.get("namespace") == self._namespace
            and meta.get("name", "").startswith(self._prefix)
        )

    def _plant(self, pod: JSON) -> JSON:
        if not self._mine(pod):
            return pod
        pod = copy.deepcopy(pod)
        pod["metadata"].setdefault("annotations", {}).update(self._annotations)
        for container in pod["spec"]["containers"]:
            container["args"] = [*container.get("args", []), *self._args]
        return pod


def _next_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1)
