"""Render the kustomize targets in deploy/ with kubectl, once per test process."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
TARGETS = {
    "base": DEPLOY / "base",
    "eks": DEPLOY / "overlays" / "eks",
    "dev": DEPLOY / "overlays" / "dev",
}
COMPONENTS = {"servicemonitor": DEPLOY / "components" / "servicemonitor"}

Manifest = dict[str, Any]


@functools.cache
def kubectl_problem() -> str | None:
    """Why kubectl cannot render here, or None when it can."""
    path = shutil.which("kubectl")
    if path is None:
        return "kubectl is not on PATH"
    try:
        subprocess.run([path, "version", "--client"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"kubectl does not run: {exc}"
    return None


def _kustomize(directory: Path) -> list[Manifest]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
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


def render_with_components(target: str, components: list[str], workdir: Path) -> list[Manifest]:
    """Render ``target`` plus components through a throwaway kustomization in ``workdir``."""

    # kustomize refuses absolute paths to other kustomizations, so refer to them relatively.
    def rel(path: Path) -> str:
        return os.path.relpath(path, workdir)

    text = yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [rel(TARGETS[target])],
            "components": [rel(COMPONENTS[name]) for name in components],
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
