"""The Dockerfile's promises, checked without a Docker engine (there is none on these machines)."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from k8s_monitor.config import Settings
from tests.unit.deploy.dockerfile import DOCKERFILE, Stage, shell_commands, stages
from tests.unit.deploy.dockerfile import env as stage_env
from tests.unit.deploy.rendering import REPO

DOCKERIGNORE = REPO / ".dockerignore"
RUNTIME_ENV = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "HOME", "PATH"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def runtime() -> Stage:
    return stages()[-1]


def test_multi_stage_build_wheel_then_slim_runtime(runtime: Stage) -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    build = all_stages[0]
    assert any("build" in args and "--wheel" in args for args in build.all("RUN"))
    assert "slim" in runtime.base
    copies = runtime.all("COPY")
    # The runtime receives only the build's venv, never the source tree.
    assert copies and all(args.startswith(f"--from={build.name}") for args in copies)


def test_base_image_is_pinned_by_digest_through_a_build_arg() -> None:
    text = DOCKERFILE.read_text()
    # A `# syntax=` line pulls a frontend image an ECR-only or air-gapped build cannot reach.
    assert not re.match(r"#\s*syntax\s*=", text.lstrip(), re.IGNORECASE)
    for stage in stages():
        assert DIGEST.search(stage.base), f"stage {stage.name}: {stage.base} has no digest"
    froms = [line.split()[1] for line in text.splitlines() if line.upper().startswith("FROM ")]
    assert all(base.startswith("${") for base in froms), "the base is set through a build ARG"


def test_build_installs_only_the_hash_pinned_lock_with_a_current_pip() -> None:
    build = stages()[0]
    commands = shell_commands(build)
    upgrade = next(i for i, c in enumerate(commands) if "pip install --upgrade pip" in c)
    lock_installs = [i for i, c in enumerate(commands) if "-r requirements.lock" in c]
    assert lock_installs and upgrade < lock_installs[0]
    for i in lock_installs:
        assert "--require-hashes" in commands[i] and "--no-deps" in commands[i]
    # Every other install into the venv adds the project's wheel alone, resolving nothing.
    venv_installs = [c for c in commands if "--python /opt/venv" in c and " install " in c]
    for command in venv_installs:
        assert "--no-deps" in command, command
    assert "requirements.lock" in " ".join(build.all("COPY"))
    # The lock's layer comes before the source's, so a code change reinstalls nothing.
    copies = build.all("COPY")
    lock_copy = next(i for i, c in enumerate(copies) if "requirements.lock" in c)
    source_copy = next(i for i, c in enumerate(copies) if "k8s_monitor" in c)
    assert lock_copy < source_copy


def test_runtime_has_no_pip_or_setuptools(runtime: Stage) -> None:
    commands = shell_commands(runtime)
    assert not any(re.search(r"pip install", c) for c in commands)
    removal = next(c for c in commands if "pip uninstall" in c)
    assert {"pip", "setuptools"} <= set(removal.split())
    venv = next(c for c in stages()[0].all("RUN") if "venv" in c)
    assert "--without-pip" in venv


def test_data_directories_are_group_0_writable_for_any_uid(runtime: Stage) -> None:
    commands = shell_commands(runtime)
    assert any(re.fullmatch(r"chown -R \d+:0 /data", c) for c in commands), commands
    assert "chmod -R g=u /data" in commands
    assert "/data" in runtime.last("VOLUME")


def test_runs_as_uid_10001_with_the_cli_entrypoint(runtime: Stage) -> None:
    assert runtime.last("USER").split(":")[0] == "10001"
    assert json.loads(runtime.last("ENTRYPOINT")) == ["k8s-monitor"]
    assert json.loads(runtime.last("CMD")) == ["run"]


def test_environment_is_unbuffered_and_points_state_at_data(runtime: Stage) -> None:
    env = stage_env(runtime)
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
    for path in ("pyproject.toml", "README.md", "requirements.lock", "k8s_monitor/cli/__init__.py"):
        assert not _ignored(path, patterns), path
    build_inputs = [source for args in stages()[0].all("COPY") for source in args.split()[:-1]]
    assert "pyproject.toml" in build_inputs
    for source in build_inputs:
        assert (REPO / source).exists(), f"COPY {source}: missing from the repository"
