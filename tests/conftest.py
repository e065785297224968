"""Shared fixtures: every test starts from a clean environment in its own directory.

Settings read the environment and ``./.env``; a developer's shell or a stray ``.env`` must not
change what a test sees, so both are cleared for every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8s_monitor.config import Settings

SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any k8s-monitor setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env.update(overrides)
    return env


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper() in SETTING_NAMES or name.upper().startswith("AWS_"):
            monkeypatch.delenv(name)
    # No AWS credential lookup may leave the machine (instance metadata at 169.254.169.254) or
    # read a developer's ~/.aws: tests that use AWS set what they need.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.chdir(tmp_path)
    yield
