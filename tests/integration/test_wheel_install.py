"""What the image does, without Docker: build the wheel from the Docker build context, install
only that wheel into a fresh venv, and run the installed ``k8s-monitor`` from there.

The fresh venv lacks what the Dockerfile deletes (``kubernetes.aio``), and the data directory
is prepared with the Dockerfile's own commands, so the daemon's start-up as an arbitrary UID is
checked as the image would run it.

Offline by design: the wheel is built without build isolation (setuptools comes from the dev
extra), and the fresh venv borrows the dev venv's dependencies through a ``.pth`` line instead
of downloading them. The dev venv's editable install of k8s-monitor is not visible there
(``.pth`` files of a directory added that way are not processed), so the code that runs is the
wheel's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import clean_env
from tests.unit.deploy.dockerfile import shell_commands, stages

REPO = Path(__file__).resolve().parents[2]
BUILD_CONTEXT = ("pyproject.toml", "README.md", "k8s_monitor")  # as .dockerignore allows
# What the Dockerfile's build stage deletes from the venv; the fresh venv cannot import it.
REMOVED_IN_IMAGE = "kubernetes.aio"
_BLOCKER = f"""
import importlib.abc, sys

class _RemovedInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {REMOVED_IN_IMAGE!r} or name.startswith({REMOVED_IN_IMAGE!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}} (removed in the image)")
        return None

sys.meta_path.insert(0, _RemovedInImage())
"""
# An arbitrary UID, not in the image's /etc/passwd: platforms that assign one run it in group 0.
ARBITRARY_UID = 54321
PACKAGE_DATA_SUFFIXES = (".py", ".yaml", ".json", ".typed")

# One worker builds the wheel and the venv once for the whole module.
pytestmark = pytest.mark.xdist_group("wheel_install")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, f"{argv} failed ({result.returncode}):\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Docker build context: the wheel is built from exactly what the image gets."""
    context = tmp_path_factory.mktemp("context")
    for name in BUILD_CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, context / name)
    return context


@pytest.fixture(scope="module")
def wheel(context: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist),
          str(context)], cwd=context)  # fmt: skip
    wheels = list(dist.glob("k8s_monitor-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv
    ).strip()
    Path(purelib, "_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    Path(purelib, "_removed_in_image.py").write_text(_BLOCKER)
    Path(purelib, "_removed_in_image.pth").write_text("import _removed_in_image\n")
    _run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python),
          "install", "--no-deps", "--no-index", str(wheel)], cwd=venv)  # fmt: skip
    return venv


def _project_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def test_wheel_holds_the_package_and_its_data_but_no_tests(wheel: Path, context: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(context))
        for path in (context / "k8s_monitor").rglob("*")
        if path.is_file()
        and path.suffix in PACKAGE_DATA_SUFFIXES
        and "__pycache__" not in path.parts
    }
    assert expected - names == set(), "files missing from the wheel"
    assert not any(name.startswith("tests/") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert (
        "k8s-monitor = k8s_monitor.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_installed_cli_reports_the_project_version(fresh_venv: Path) -> None:
    where = _run(
        [
            str(fresh_venv / "bin" / "python"),
            "-c",
            "import k8s_monitor; print(k8s_monitor.__file__)",
        ],
        cwd=fresh_venv,
    )
    assert Path(where.strip()).is_relative_to(fresh_venv), "imported the source tree, not the wheel"
    out = _run([str(fresh_venv / "bin" / "k8s-monitor"), "--version"], cwd=fresh_venv)
    assert out.strip() == f"k8s-monitor {_project_version()}"


def test_installed_cli_runs_one_cycle_against_the_simulator(
    fresh_venv: Path, tmp_path: Path
) -> None:
    from k8s_monitor import sim

    env = clean_env(
        LOG_FORMAT="json",
        LLM_PROVIDER="offline",
        KUBECONFIG=str(tmp_path / "kubeconfig"),
        SESSION_DIR=str(tmp_path / "sessions"),
        REPORT_DIR=str(tmp_path / "reports"),
        METRICS_PORT="0",
        CLUSTER_NAME="wheel-test",
    )
    env["PATH"] = f"{fresh_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with sim.SimServer(sim.load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
        server.write_kubeconfig(tmp_path / "kubeconfig", token="wheel-test")
        _run([str(fresh_venv / "bin" / "k8s-monitor"), "once"], cwd=tmp_path, env=env)
    # In the pod only /data and /tmp are writable: nothing may land beside them in the cwd.
    assert {path.name for path in tmp_path.iterdir()} <= {"kubeconfig", "sessions", "reports"}
    reports = sorted((tmp_path / "reports").glob("cycle-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["cluster"] == "wheel-test"
    assert report["outcome"] in {"ok", "degraded"}


def test_the_module_the_image_deletes_is_not_importable_here(fresh_venv: Path) -> None:
    # Else the cycle tests above would not show that the daemon runs without it.
    result = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", f"import {REMOVED_IN_IMAGE}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "removed in the image" in result.stderr


def _data_dir_as_in_the_image(root: Path) -> Path:
    """Run the runtime stage's commands that prepare /data, with /data moved under ``root``."""
    data = root / "data"
    commands = [c for c in shell_commands(stages()[-1]) if "/data" in c]
    assert commands, "the runtime stage prepares no /data"
    for command in commands:
        _run(["sh", "-c", command.replace("/data", str(data))], cwd=root)
    return data


def _world_traversable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


def _interpreter_for_anyone() -> Path | None:
    """This Python, or the system's of the same version, where another UID can run it
    (a pyenv Python under /root is not)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable).resolve(), Path("/usr/bin") / version):
        if candidate.is_file() and _world_traversable(candidate.parent):
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="starting as another UID needs root")
def test_image_starts_as_an_arbitrary_uid_in_group_0(wheel: Path, tmp_path: Path) -> None:
    from k8s_monitor import sim

    dev_purelib = Path(sysconfig.get_paths()["purelib"])
    interpreter = _interpreter_for_anyone()
    if interpreter is None or not _world_traversable(dev_purelib):
        pytest.skip(f"no Python {sys.version_info[:2]} and dependencies another UID can run")
    # pytest's own temp directories are private to root; this one is traversable, like the image.
    root = Path(tempfile.mkdtemp(prefix="any-uid-"))
    try:
        root.chmod(0o755)
        venv = root / "venv"
        _run([str(interpreter), "-m", "venv", "--without-pip", str(venv)], cwd=root)
        python = venv / "bin" / "python"
        purelib = _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=root,
        ).strip()
        Path(purelib, "_borrowed_dependencies.pth").write_text(f"{dev_purelib}\n")
        _run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python),
              "install", "--no-deps", "--no-index", str(wheel)], cwd=root)  # fmt: skip
        data = _data_dir_as_in_the_image(root)
        home = root / "tmp"
        home.mkdir(mode=0o1777)
        home.chmod(0o1777)
        env = clean_env(
            HOME=str(home),
            PYTHONDONTWRITEBYTECODE="1",
            LOG_FORMAT="json",
            LLM_PROVIDER="offline",
            KUBECONFIG=str(root / "kubeconfig"),
            SESSION_DIR=str(data / "sessions"),
            REPORT_DIR=str(data / "reports"),
            METRICS_PORT="0",
            CLUSTER_NAME="any-uid",
        )
        with sim.SimServer(sim.load_scenario("incident-day"), host="127.0.0.1", port=0) as server:
            kubeconfig = server.write_kubeconfig(root / "kubeconfig", token="any-uid")
            os.chown(kubeconfig, ARBITRARY_UID, 0)  # the pod's own token is readable by it
            result = subprocess.run(
                [str(venv / "bin" / "k8s-monitor"), "once"],
                cwd=data,
                env=env,
                user=ARBITRARY_UID,
                group=0,
                extra_groups=[0],
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
        assert result.returncode == 0, result.stderr
        reports = list((data / "reports").glob("cycle-*.json"))
        assert len(reports) == 1 and reports[0].stat().st_uid == ARBITRARY_UID
        assert list((data / "sessions").iterdir()), "the session was not written"
    finally:
        shutil.rmtree(root, ignore_errors=True)
