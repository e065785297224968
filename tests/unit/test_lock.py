"""requirements.lock: hash-pinned, in step with pyproject.toml, and what the venv runs.

Offline: the lock is compared with pyproject's requirements and with its own "via" notes, so a
dependency added, removed or re-ranged in pyproject without `make lock` fails here, naming it.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
# The extras the image installs, and so the lock covers (Dockerfile, Makefile `lock`).
LOCKED_EXTRAS = ("bedrock", "mcp")
PROJECT = "k8s-monitor"
REFRESH = "run `make lock` and commit requirements.lock"

PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]+))?")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
VIA = re.compile(r"^\s+#\s+(?:via\s+)?(?P<parent>[A-Za-z0-9._-]+)")


@dataclass
class Pin:
    version: str
    marker: Marker | None
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> dict[str, Pin]:
    """Name -> pin, from `uv pip compile --generate-hashes` output (pip-compile's is alike)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if match := PIN.match(line):
            marker = match.group("marker")
            current = Pin(match.group("version"), Marker(marker.strip()) if marker else None)
            pins[canonicalize_name(match.group("name"))] = current
        elif current is not None:
            current.hashes += len(HASH.findall(line))
            if (via := VIA.match(line)) and via.group("parent") != "via":
                current.via.add(canonicalize_name(via.group("parent")))
    return pins


def project_requirements(pyproject: str) -> list[Requirement]:
    project = tomllib.loads(pyproject)["project"]
    extras = project.get("optional-dependencies", {})
    texts = [*project["dependencies"], *(req for name in LOCKED_EXTRAS for req in extras[name])]
    return [Requirement(text) for text in texts]


def stale_reasons(pyproject: str, lock: str) -> list[str]:
    """Why the lock does not match pyproject (empty when it does)."""
    pins = parse_lock(lock)
    wanted = project_requirements(pyproject)
    reasons: list[str] = []
    for req in wanted:
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            reasons.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            reasons.append(f"{req} does not admit the locked {req.name}=={pin.version}")
    direct = {name for name, pin in pins.items() if PROJECT in pin.via}
    for name in sorted(direct - {canonicalize_name(req.name) for req in wanted}):
        reasons.append(f"the lock still has {name} as a dependency of {PROJECT}")
    for name, pin in sorted(pins.items()):
        if pin.hashes == 0:
            reasons.append(f"{name}=={pin.version} has no hash")
        for parent in sorted(pin.via - {PROJECT} - pins.keys()):
            reasons.append(f"{name} is locked for {parent}, which is not in the lock")
    return reasons


def _pyproject() -> str:
    return (REPO / "pyproject.toml").read_text()


def test_lock_matches_pyproject() -> None:
    reasons = stale_reasons(_pyproject(), LOCK.read_text())
    assert not reasons, "requirements.lock is stale: " + "; ".join(reasons) + f": {REFRESH}"


def test_lock_pins_every_package_with_hashes() -> None:
    pins = parse_lock(LOCK.read_text())
    assert {"kubernetes", "anthropic", "boto3", "botocore", "python-dateutil"} <= pins.keys()
    assert all(pin.hashes >= 1 for pin in pins.values())


def test_venv_runs_the_locked_versions() -> None:
    # CI tests what ships: the dev tools installed around the lock must not have moved a pin.
    moved = []
    for name, pin in parse_lock(LOCK.read_text()).items():
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            moved.append(f"{name} (not installed)")
            continue
        if installed != pin.version:
            moved.append(f"{name} {installed} != {pin.version}")
    assert not moved, f"the venv differs from requirements.lock: {moved}; run `make clean test`"


# --- the staleness check itself, on edited copies -----------------------------------------


def _edited_pyproject(old: str, new: str) -> str:
    text = _pyproject()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('  "PyYAML>=6",\n', '  "PyYAML>=6",\n  "rich>=13",\n', "rich>=13 is not in the lock"),
        ('"PyYAML>=6"', '"PyYAML>=99"', "PyYAML>=99 does not admit the locked"),
        ('  "PyYAML>=6",\n', "", "the lock still has pyyaml as a dependency"),
    ],
)
def test_a_pyproject_change_without_make_lock_is_stale(old: str, new: str, expected: str) -> None:
    reasons = stale_reasons(_edited_pyproject(old, new), LOCK.read_text())
    assert any(expected in reason for reason in reasons), reasons


def test_a_pin_without_hash_is_stale() -> None:
    lock = LOCK.read_text()
    first_hash = HASH.search(lock)
    assert first_hash is not None
    # Drop every hash of the first package: its line keeps the pin, loses the check.
    name = next(iter(parse_lock(lock)))
    stripped = re.sub(
        rf"(?ms)^({re.escape(name)}==[^\n]*?)\\\n(\s+--hash=[^\n]*\n)+", r"\1\n", lock, count=1
    )
    assert any("has no hash" in reason for reason in stale_reasons(_pyproject(), stripped))
