"""Read the Dockerfile's stages and instructions (no Docker engine on these machines)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from tests.unit.deploy.rendering import REPO

DOCKERFILE = REPO / "Dockerfile"


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


def instructions(text: str) -> list[tuple[str, str]]:
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


def global_args(text: str) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the ones a FROM line can use)."""
    found: dict[str, str] = {}
    for keyword, args in instructions(text):
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = args.partition("=")
            found[name] = default
    return found


def stages(text: str | None = None) -> list[Stage]:
    """The build stages, each FROM's base with global ARGs substituted."""
    text = DOCKERFILE.read_text() if text is None else text
    args = global_args(text)
    result: list[Stage] = []
    for keyword, line in instructions(text):
        if keyword == "FROM":
            parts = line.split()
            base = parts[0]
            for name, value in args.items():
                base = base.replace(f"${{{name}}}", value).replace(f"${name}", value)
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append(Stage(base=base, name=name))
        elif result:
            result[-1].instructions.append((keyword, line))
    return result


def env(stage: Stage) -> dict[str, str]:
    found: dict[str, str] = {}
    for args in stage.all("ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            found[key] = value
    return found


def shell_commands(stage: Stage) -> list[str]:
    """The stage's RUN lines split at `&&`, one shell command each."""
    return [part.strip() for args in stage.all("RUN") for part in args.split("&&")]
