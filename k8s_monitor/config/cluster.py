"""Cluster access and collection: kubeconfig, scope, paging, log tails, redaction, blindness."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from k8s_monitor.config.checks import CommaList, ReadableFile, require_readable_file
from k8s_monitor.config.section import Section


class ClusterSection(Section):
    cluster_name: str = Field("kubernetes", min_length=1, max_length=128)
    kubeconfig: ReadableFile | None = None
    kube_context: str | None = None
    namespace_include: CommaList = Field(default_factory=list)
    namespace_exclude: CommaList = Field(default_factory=list)
    label_selector: str | None = None
    collect_page_size: int = Field(500, ge=1, le=10_000)
    collect_timeout_seconds: float = Field(30.0, gt=0.0, le=600.0)
    collect_concurrency: int = Field(4, ge=1, le=32)
    event_window_minutes: float = Field(60.0, gt=0.0)
    log_tail_lines: int = Field(50, ge=0, le=5_000)
    log_tail_bytes: int = Field(8_192, ge=0, le=1_048_576)
    log_tail_max_containers: int = Field(10, ge=0, le=500)
    # Regular expressions contain commas ({2,5}): not a CommaList, see _split_patterns.
    redact_patterns: Annotated[list[str], NoDecode] = Field(default_factory=list)
    blind_after_failures: int = Field(3, ge=1, le=1_000)

    @field_validator("redact_patterns", mode="before")
    @classmethod
    def _split_patterns(cls, value: Any) -> Any:
        # A JSON array, or one pattern per line.
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON array of patterns: {exc}") from exc
        return [line.strip() for line in value.splitlines() if line.strip()]

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from exc
        return value

    @field_validator("kubeconfig", mode="before")
    @classmethod
    def _first_kubeconfig(cls, value: Any) -> Any:
        # kubectl accepts a PATH-style list; the client merges them, we check each is readable.
        if isinstance(value, str) and os.pathsep in value:
            for part in value.split(os.pathsep):
                require_readable_file(Path(part))
            return value.split(os.pathsep)[0]
        return value

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig_parses(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        try:
            document = yaml.safe_load(value.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(f"{str(value)!r} is not a valid kubeconfig (YAML): {exc}") from exc
        if not isinstance(document, dict):
            raise ValueError(  # noqa: TRY004 - pydantic turns ValueError into the user message
                f"{str(value)!r} is not a valid kubeconfig (expected a mapping)"
            )
        return value

    @field_validator("kube_context")
    @classmethod
    def _context_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        # info.data holds kubeconfig because it is declared (so validated) before kube_context.
        kubeconfig = info.data.get("kubeconfig")
        if value is None or kubeconfig is None:
            return value  # in-cluster, or ~/.kube/config: the client reports it at start
        contexts = _kubeconfig_contexts(kubeconfig)
        if value not in contexts:
            known = ", ".join(sorted(contexts)[:10]) or "none"
            raise ValueError(f"no context {value!r} in {str(kubeconfig)!r} (it has: {known})")
        return value


def _kubeconfig_contexts(path: Path) -> set[str]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = document.get("contexts") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return set()
    return {str(e["name"]) for e in entries if isinstance(e, dict) and "name" in e}
