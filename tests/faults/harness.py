"""The rig the fault suite attacks: simulator, fake model, webhook receiver, settings, checks.

Everything binds 127.0.0.1 on port 0. ``Rig`` hands out the same configuration either as
``Settings`` (in-process cycles, cheap) or as an environment (the daemon as a subprocess).
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from k8s_monitor.config import LogFormat, Settings, load_settings
from k8s_monitor.logs import configure_logging
from k8s_monitor.redaction import Redactor, guarded
from k8s_monitor.report import CycleReport
from k8s_monitor.sessions import SessionManager
from k8s_monitor.sim import ClusterSource, SimServer, load_scenario
from k8s_monitor.wiring import Monitor, assemble, ledger_path
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.webhook_receiver import WebhookReceiver

SCENARIO = Path(__file__).with_name("scenario_small.yaml")
API_KEY = "sk-ant-api03-faultsuite-dummy-key-0000000000"
SESSION_ID = "faults"


@dataclass
class Rig:
    root: Path
    sim: SimServer
    fake: FakeAnthropic
    receiver: WebhookReceiver
    kubeconfig: Path
    session_key: str | None = None

    @property
    def session_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def report_dir(self) -> Path:
        return self.root / "reports"

    def overrides(self, **extra: Any) -> dict[str, Any]:
        """Settings for persistent cycles on the simulator with the fake model."""
        values: dict[str, Any] = {
            "enable_long_context": True,
            "session_id": SESSION_ID,
            "session_dir": self.session_dir,
            "report_dir": self.report_dir,
            "kubeconfig": self.kubeconfig,
            "cluster_name": "faults-sim",
            "llm_provider": "anthropic",
            "anthropic_api_key": API_KEY,
            "anthropic_base_url": self.fake.url,
            "llm_max_retries": 2,
            "llm_timeout_seconds": 5.0,
            "collect_timeout_seconds": 5.0,
            "webhook_url": self.receiver.url,
            "notify_timeout_seconds": 2.0,
            "metrics_port": 0,
            "log_tail_lines": 20,
            # Faults are injected into model calls: every cycle makes one.
            "llm_call_policy": "every-cycle",
            **({"session_encryption_key": self.session_key} if self.session_key else {}),
            **extra,
        }
        return values

    def settings(self, **extra: Any) -> Settings:
        return load_settings(**self.overrides(**extra))

    def env(self, **extra: Any) -> dict[str, str]:
        """The same configuration as environment variables, for a daemon subprocess."""
        return {k.upper(): _env_value(v) for k, v in self.overrides(**extra).items()}

    def monitor(self, **extra: Any) -> Monitor:
        return assemble(self.settings(**extra))

    def reader(self) -> SessionManager:
        """A fresh manager, as a restarted daemon would build it (no lock taken)."""
        keys = [self.session_key] if self.session_key else None
        return SessionManager(self.session_dir, 2_000_000, encryption_keys=keys)

    def load_session(self) -> dict[str, Any] | None:
        return self.reader().load_session(SESSION_ID)

    def session_bytes(self) -> bytes | None:
        path = self.session_dir / f"{SESSION_ID}.json"
        return path.read_bytes() if path.exists() else None

    def ledger_cycle(self) -> int:
        path = ledger_path(self.settings())
        if not path.exists():
            return 0
        return int(json.loads(path.read_bytes())["ledger"]["cycle"])


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextmanager
def rig(
    root: Path,
    source: ClusterSource | None = None,
    *,
    fake: FakeAnthropic | None = None,
    session_key: str | None = None,
) -> Iterator[Rig]:
    scenario = source or load_scenario(str(SCENARIO))
    model = fake or FakeAnthropic(api_key=API_KEY, min_cacheable_tokens=256)
    with (
        SimServer(scenario, host="127.0.0.1", port=0) as sim,
        model as served,
        WebhookReceiver() as hook,
    ):
        kubeconfig = sim.write_kubeconfig(root / "kubeconfig", token="faults-sa-token")
        yield Rig(root, sim, served, hook, kubeconfig, session_key)


def run_cycles(monitor: Monitor, count: int, sim: SimServer | None = None) -> list[CycleReport]:
    """``count`` cycles in-process; with ``sim``, the scenario advances (wrapping) each cycle."""
    reports = []
    for _ in range(count):
        reports.append(monitor.runner.run())
        if sim is not None:
            sim.goto((sim.step + 1) % sim.step_count)
    return reports


# --- logs ------------------------------------------------------------------------------------


@contextmanager
def captured_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Configure logging exactly as the CLI does, into a buffer; restore afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(
        settings.log_level.value,
        LogFormat.JSON,
        redact=guarded("log", Redactor.from_settings(settings)),
        stream=stream,
    )
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()


def log_events(stream: io.StringIO) -> list[dict[str, Any]]:
    events = []
    for line in stream.getvalue().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


# --- invariants of a persistent session --------------------------------------------------------


def turn_problems(session: dict[str, Any]) -> list[str]:
    """What is wrong with the turns: roles must alternate and each cycle appear at most once."""
    problems: list[str] = []
    history = [m for m in session["conversation_history"] if m.get("role") != "system"]
    previous_role = "assistant"
    for index, message in enumerate(history):
        role = message.get("role")
        if role == previous_role:
            problems.append(f"message {index}: two {role} messages in a row")
        previous_role = role
    if history and history[-1].get("role") != "assistant":
        problems.append("orphaned user message at the end")
    cycles = Counter(
        (m.get("role"), (m.get("meta") or {}).get("cycle"))
        for m in history
        if (m.get("meta") or {}).get("cycle") is not None
    )
    problems.extend(
        f"{role} turn of cycle {cycle} appears {n} times"
        for (role, cycle), n in cycles.items()
        if n > 1
    )
    return problems


def session_cycles(session: dict[str, Any]) -> list[int]:
    return [
        int(m["meta"]["cycle"])
        for m in session["conversation_history"]
        if m.get("role") == "user" and isinstance((m.get("meta") or {}).get("cycle"), int)
    ]
