"""Settings, .env.example, deploy/ and the README table must agree, in both directions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8s_monitor.config import Settings

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / ".env.example"
DEPLOY = REPO / "deploy"
README = REPO / "README.md"

ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
DOCUMENTED_DEFAULT = re.compile(r"Default: (.*)\.$")
FIELDS = {name.upper(): name for name in Settings.model_fields}


def _default(field: str) -> Any:
    info = Settings.model_fields[field]
    return info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]


def _parsed(field: str, text: str) -> Any:
    """What Settings makes of ``text`` for ``field``, everything else at its default."""
    return getattr(Settings(_env_file=None, **{field: text}), field)  # type: ignore[call-arg]


def _env_example_entries() -> dict[str, tuple[bool, str, str]]:
    """NAME -> (active, value, documented default) for each assignment in .env.example."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    entries: dict[str, tuple[bool, str, str]] = {}
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if not match:
            continue
        name, value = match.groups()
        assert name not in entries, f"{name} is documented twice"
        comment = lines[index - 1] if index else ""
        documented = DOCUMENTED_DEFAULT.search(comment)
        assert comment.startswith("# ") and documented, f"{name} lacks a '... Default: X.' line"
        entries[name] = (not line.startswith("#"), value, documented.group(1))
    return entries


def test_env_example_documents_exactly_the_settings_fields() -> None:
    documented = set(_env_example_entries())
    assert documented - FIELDS.keys() == set(), "documented but not a Settings field"
    assert FIELDS.keys() - documented == set(), "Settings fields missing from .env.example"


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_env_example_states_the_real_default(name: str) -> None:
    entries = _env_example_entries()
    if name not in entries:
        pytest.fail(f"{name} missing from .env.example")
    active, value, documented = entries[name]
    field = FIELDS[name]
    if documented in ("unset", "empty"):
        assert _default(field) == (None if documented == "unset" else [])
        assert not active, f"{name} has no default, so its example line must stay commented out"
        return
    assert _parsed(field, documented) == _default(field)
    if active:
        assert value == documented, f"{name}: the active value differs from the default"


def _yaml_documents() -> list[tuple[Path, dict[str, Any]]]:
    documents = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict):
                documents.append((path, document))
    return documents


def _env_names_in(document: dict[str, Any]) -> set[str]:
    """Variables a deploy/ document sets: generator literals, ConfigMap/Secret keys, env."""
    names: set[str] = set()
    kind = document.get("kind")
    for generator in document.get("configMapGenerator", []) + document.get("secretGenerator", []):
        names |= {literal.split("=", 1)[0] for literal in generator.get("literals", [])}
    if kind in ("ConfigMap", "Secret"):
        for key in ("data", "stringData"):
            names |= set(document.get(key) or {})
    if kind == "Deployment":
        for container in document["spec"]["template"]["spec"]["containers"]:
            names |= {item["name"] for item in container.get("env", [])}
    return names


def test_every_variable_set_in_deploy_is_a_settings_field() -> None:
    found: dict[str, Path] = {}
    for path, document in _yaml_documents():
        for name in _env_names_in(document):
            found.setdefault(name, path)
    assert "SESSION_DIR" in found and "ANTHROPIC_API_KEY" in found  # the scan sees both files
    unknown = {name: str(path.relative_to(REPO)) for name, path in found.items()}
    for name in FIELDS:
        unknown.pop(name, None)
    assert unknown == {}


def test_deploy_values_are_valid_settings() -> None:
    for path, document in _yaml_documents():
        for generator in document.get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                name, value = literal.split("=", 1)
                try:
                    _parsed(FIELDS[name], value)
                except ValueError as exc:  # pydantic's ValidationError is a ValueError
                    pytest.fail(f"{path.relative_to(REPO)}: {name}={value!r}: {exc}")


def test_readme_configuration_table_lists_every_field_with_its_default() -> None:
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    assert rows.keys() == FIELDS.keys()
    entries = _env_example_entries()
    for name, default in rows.items():
        documented = entries[name][2]
        plain = documented in ("unset", "empty")
        assert default == (documented if plain else f"`{documented}`"), name
