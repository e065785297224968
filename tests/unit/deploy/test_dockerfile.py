"""The Dockerfile's promises, checked without a Docker engine (there is none on these machines)."""

from __future__ import annotations

import fnmatch
import json
import shlex
from dataclasses import dataclass, field

import pytest

from k8s_monitor.config import Settings
from tests.unit.deploy.rendering import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
RUNTIME_ENV = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR",
               "PIP_DISABLE_PIP_VERSION_CHECK", "HOME"}  # fmt: skip


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    for keyword, args in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            env[key] = value
    return env


@pytest.fixture(scope="module")
def runtime() -> Stage:
    return _stages()[-1]


def test_multi_stage_build_wheel_then_slim_runtime(runtime: Stage) -> None:
    stages = _stages()
    assert len(stages) >= 2
    build = stages[0]
    assert any("build" in args and "--wheel" in args for args in build.all("RUN"))
    assert "slim" in runtime.base
    copies = runtime.all("COPY")
    # The runtime receives only the built wheel, never the source tree.
    assert copies and all(args.startswith(f"--from={build.name}") for args in copies)
    installs = [args for args in runtime.all("RUN") if "pip install" in args]
    assert installs and all(".whl" in args for args in installs)


def test_runs_as_uid_10001_with_the_cli_entrypoint(runtime: Stage) -> None:
    assert runtime.last("USER").split(":")[0] == "10001"
    assert json.loads(runtime.last("ENTRYPOINT")) == ["k8s-monitor"]
    assert json.loads(runtime.last("CMD")) == ["run"]


def test_environment_is_unbuffered_and_points_state_at_data(runtime: Stage) -> None:
    env = _env(runtime)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SESSION_DIR"].startswith("/data/")
    assert env["REPORT_DIR"].startswith("/data/")
    settings = {name.upper() for name in Settings.model_fields}
    assert set(env) - RUNTIME_ENV <= settings, "ENV sets a variable Settings does not know"
    assert runtime.last("EXPOSE") == env["METRICS_PORT"]
    assert "/data" in runtime.last("VOLUME")


def test_oci_labels(runtime: Stage) -> None:
    labels = " ".join(runtime.all("LABEL"))
    for key in ("title", "description", "version", "revision", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a leading ! re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, body + "/*"):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_state_out_but_the_build_inputs_in() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".env", ".git", ".venv", "sessions/s.json", "reports/r.json", "tests/x.py"):
        assert _ignored(path, patterns), path
    for path in ("pyproject.toml", "README.md", "k8s_monitor/cli/__init__.py"):
        assert not _ignored(path, patterns), path
    build_inputs = [source for args in _stages()[0].all("COPY") for source in args.split()[:-1]]
    assert "pyproject.toml" in build_inputs
    for source in build_inputs:
        assert (REPO / source).exists(), f"COPY {source}: missing from the repository"
