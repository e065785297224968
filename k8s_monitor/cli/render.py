"""Printing for the CLI: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

ELLIPSIS = "\u2026"
PROGRAM = "k8s-monitor"


def one_line(text: str, width: int) -> str:
    """The first line of ``text`` in at most ``width`` characters, cut after a whole word and
    ended with an ellipsis when it is longer."""
    lines = text.strip().splitlines()
    line = " ".join(lines[0].split()) if lines else ""
    if len(line) <= width:
        return line
    head = line[: width - 1]
    space = head.rfind(" ")
    # A word running past the cut is dropped, unless it is most of the line (a long URL).
    if line[width - 1] != " " and space > width // 2:
        head = head[:space]
    return head.rstrip(" ,;:.") + ELLIPSIS


def self_command(program: str | None = None) -> str:
    """How to run this k8s-monitor again from the current directory: the bare name when PATH
    finds this very program, else its path (``make demo`` runs .venv/bin/k8s-monitor, which is
    not on PATH)."""
    invoked = Path(program if program is not None else sys.argv[0])
    if invoked.name != PROGRAM:  # python -m k8s_monitor
        return f"{_path_from_here(Path(sys.executable))} -m k8s_monitor"
    found = shutil.which(PROGRAM)
    if found is not None and Path(found).resolve() == invoked.resolve():
        return PROGRAM
    return _path_from_here(invoked)


def _path_from_here(path: Path) -> str:
    # absolute(), not resolve(): a venv's bin/python must stay the venv's, not its target.
    absolute = path.absolute()
    try:
        shown = absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return shlex.quote(str(absolute))
    return shlex.quote(shown if "/" in shown else f"./{shown}")


def print_json(value: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
    out.write("\n")


def print_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], stream: TextIO | None = None
) -> None:
    """Left-aligned columns sized to their widest cell; an empty table prints its header only."""
    out = stream or sys.stdout
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    headers = [column.upper() for column in columns]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for line in [headers, *cells]:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
