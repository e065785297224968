"""The CLI's one-line summaries and the command it tells people to run next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from k8s_monitor.cli.render import ELLIPSIS, one_line, self_command

SUMMARY = (
    "5 open incident(s) (3 critical, 2 warning, 0 info); 2 new, 0 resolved this cycle. "
    "Most severe: DeploymentUnavailable on Deployment/shop/checkout-frontend in zone a"
)


@pytest.mark.parametrize("width", range(20, len(SUMMARY) + 1, 7))
def test_a_long_line_is_cut_after_a_whole_word_with_an_ellipsis(width: int) -> None:
    cut = one_line(SUMMARY, width)
    assert len(cut) <= width
    if len(SUMMARY) <= width:
        assert cut == SUMMARY
        return
    assert cut.endswith(ELLIPSIS)
    kept = cut.removesuffix(ELLIPSIS)
    # What is kept is the summary's start and ends where a word ends.
    assert SUMMARY.startswith(kept)
    assert SUMMARY[len(kept)] in " .,;:", f"cut mid-word: {cut!r}"
    assert len(kept) >= width // 2


def test_short_lines_and_first_lines() -> None:
    assert one_line("all quiet", 160) == "all quiet"
    assert one_line("first line\nsecond line", 160) == "first line"
    assert one_line("  spaced   out  ", 160) == "spaced out"
    assert one_line("", 160) == ""


def test_one_huge_word_is_cut_hard_rather_than_dropped() -> None:
    url = "https://example.com/" + "a" * 300
    cut = one_line(f"see {url}", 40)
    assert len(cut) == 40 and cut.endswith(ELLIPSIS) and cut.startswith("see https://")


def _program(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / "k8s-monitor"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def test_a_program_off_path_is_named_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path / ".venv" / "bin")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert self_command(".venv/bin/k8s-monitor") == ".venv/bin/k8s-monitor"
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert self_command(str(program)) == str(program)
    # Another k8s-monitor on PATH is not this one: still the path.
    _program(tmp_path / "path-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "path-bin"))
    assert self_command(str(program)) == str(program)


def test_a_program_on_path_is_named_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin")
    assert self_command(str(program)) == "k8s-monitor"


def test_the_printed_command_runs_from_the_directory_it_was_printed_in(tmp_path: Path) -> None:
    # As `make demo` runs it: the venv's script by a relative path, the venv not on PATH.
    script = Path(sys.executable).parent / "k8s-monitor"
    if not script.is_file():
        pytest.skip("no k8s-monitor script beside this Python")
    cwd = script.parents[2]
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    relative = str(script.relative_to(cwd))
    code = "from k8s_monitor.cli.render import self_command; print(self_command())"
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.argv[0] = {relative!r}; {code}",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert printed == relative
    result = subprocess.run(
        f"{printed} --version", shell=True, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("k8s-monitor "), result.stderr
