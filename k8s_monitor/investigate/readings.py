"""Pure readings of what Kubernetes says: exit codes, scheduler messages, image references,
pull errors, pod template differences. No I/O; the evidence playbooks call these."""

from __future__ import annotations

import re

from k8s_monitor.cluster.snapshot import Container, PodSpec
from k8s_monitor.investigate.records import SchedulingCause

_EXIT_MEANINGS = {
    0: "exited successfully (a container that must keep running stopped)",
    1: "application error (uncaught exception, failed startup check)",
    2: "misuse of a shell builtin or bad command-line arguments",
    126: "command found but not executable (permissions, wrong architecture)",
    127: "command not found in the image (entrypoint or PATH wrong)",
    128: "invalid exit argument",
    255: "exit status out of range (often a failed runtime or a crashed interpreter)",
}
_SIGNALS = {
    1: "SIGHUP",
    2: "SIGINT",
    6: "SIGABRT (abort: assertion or native crash)",
    9: "SIGKILL (OOM killer, or killed after the termination grace period)",
    11: "SIGSEGV (segmentation fault)",
    15: "SIGTERM (asked to stop: liveness probe failure, eviction or shutdown)",
}


def exit_meaning(code: int, reason: str = "") -> str:
    """What an exit code usually means; OOMKilled is named whatever the code."""
    if reason == "OOMKilled":
        return "killed by the kernel OOM killer: the container hit its memory limit"
    if code in _EXIT_MEANINGS:
        return _EXIT_MEANINGS[code]
    if 128 < code < 160:
        signal = code - 128
        return f"killed by signal {signal} {_SIGNALS.get(signal, '')}".rstrip()
    return "application-defined exit code"


def signal_of(code: int) -> int:
    return code - 128 if 128 < code < 160 else 0


# --- the scheduler's message ---------------------------------------------------------------------

_SCHEDULING_CLASSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Insufficient ([\w./-]+)", re.IGNORECASE), "insufficient_{0}"),
    (re.compile(r"Too many pods", re.IGNORECASE), "insufficient_pods"),
    (re.compile(r"untolerated taint|had taint", re.IGNORECASE), "taint_not_tolerated"),
    (
        re.compile(r"didn't match Pod's node affinity|node\(s\) didn't match node selector", re.I),
        "selector_matches_no_node",
    ),
    (re.compile(r"volume node affinity conflict", re.IGNORECASE), "volume_zone_conflict"),
    (re.compile(r"unbound (immediate )?PersistentVolumeClaims", re.IGNORECASE), "unbound_pvc"),
    (re.compile(r"pod (anti-)?affinity", re.IGNORECASE), "pod_affinity"),
    (re.compile(r"were unschedulable|unschedulable: true", re.IGNORECASE), "nodes_cordoned"),
    (re.compile(r"didn't have free ports", re.IGNORECASE), "host_port_conflict"),
    (re.compile(r"exceed max volume count|max volume count", re.IGNORECASE), "volume_limit"),
)
_COUNT = re.compile(r"^(\d+)\s+(.*)$")


def scheduling_causes(message: str) -> list[SchedulingCause]:
    """``0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint...``."""
    body = message.split("preemption:", 1)[0]
    if "available:" in body:
        body = body.split("available:", 1)[1]
    causes: list[SchedulingCause] = []
    for part in re.split(r",\s*|\.\s+", body.strip().rstrip(".")):
        part = part.strip()
        if not part:
            continue
        count = _COUNT.match(part)
        nodes, text = (int(count.group(1)), count.group(2)) if count else (0, part)
        causes.append(SchedulingCause(cause=_classify(text), nodes=nodes, text=text[:120]))
    return causes


def _classify(text: str) -> str:
    for pattern, label in _SCHEDULING_CLASSES:
        found = pattern.search(text)
        if found is not None:
            groups = [g.lower().replace("/", "_").replace(".", "_") for g in found.groups() if g]
            return label.format(*groups) if "{0}" in label else label
    return "other"


# --- images ------------------------------------------------------------------------------------


def parse_image(reference: str) -> tuple[str, str, str, str]:
    """``(registry, repository, tag, digest)``, with Docker Hub's defaults made explicit."""
    rest, _, digest = reference.partition("@")
    first, slash, remainder = rest.partition("/")
    has_registry = slash and ("." in first or ":" in first or first == "localhost")
    registry = first if has_registry else "docker.io"
    path = remainder if has_registry else rest
    repository, tag = path, ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = path.rsplit(":", 1)
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    if not tag and not digest:
        tag = "latest"
    return registry, repository, tag, digest


_PULL_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"toomanyrequests|rate limit|429", re.IGNORECASE), "rate_limited"),
    (
        re.compile(
            r"unauthorized|authentication required|no basic auth|denied|401|403|forbidden",
            re.IGNORECASE,
        ),
        "unauthorized",
    ),
    (re.compile(r"x509|tls|certificate", re.IGNORECASE), "tls"),
    (
        re.compile(r"no such host|dial tcp|i/o timeout|lookup .* on|connection refused", re.I),
        "dns_or_network",
    ),
    (re.compile(r"not found|manifest unknown|does not exist|NotFound", re.IGNORECASE), "not_found"),
    (re.compile(r"InvalidImageName|invalid reference format", re.IGNORECASE), "invalid_name"),
)


def pull_failure(message: str) -> str:
    for pattern, label in _PULL_FAILURES:
        if pattern.search(message):
            return label
    return "unknown"


# --- pod template differences --------------------------------------------------------------------

MAX_DIFF_LINES = 20


def template_diff(before: PodSpec, after: PodSpec) -> list[str]:
    """What changed between two pod specs that can break a start: images, commands, env
    references, resources, volume references. Values of env vars are never held, so never
    shown."""
    lines: list[str] = []
    old = {c.name: c for c in before.containers}
    new = {c.name: c for c in after.containers}
    for name in sorted(old.keys() - new.keys()):
        lines.append(f"container {name} removed")
    for name in sorted(new.keys() - old.keys()):
        lines.append(f"container {name} added (image {new[name].image})")
    for name in sorted(old.keys() & new.keys()):
        lines += _container_diff(old[name], new[name])
    lines += _volume_diff(before, after)
    if before.service_account_name != after.service_account_name:
        lines.append(
            f"serviceAccountName: {before.service_account_name or 'default'} ->"
            f" {after.service_account_name or 'default'}"
        )
    return lines[:MAX_DIFF_LINES]


def _container_diff(old: Container, new: Container) -> list[str]:
    lines = []
    prefix = f"container {new.name}"
    if old.image != new.image:
        lines.append(f"{prefix} image: {old.image} -> {new.image}")
    if old.command != new.command or old.args != new.args:
        lines.append(f"{prefix} command/args changed")
    old_env, new_env = _env_refs(old), _env_refs(new)
    for env in sorted(old_env.keys() - new_env.keys()):
        lines.append(f"{prefix} env {env} removed")
    for env in sorted(new_env.keys() - old_env.keys()):
        lines.append(f"{prefix} env {env} added{_ref_text(new_env[env])}")
    for env in sorted(old_env.keys() & new_env.keys()):
        if old_env[env] != new_env[env]:
            lines.append(
                f"{prefix} env {env} source:{_ref_text(old_env[env])} ->{_ref_text(new_env[env])}"
            )
    if _env_from(old) != _env_from(new):
        lines.append(f"{prefix} envFrom: {_env_from(old)} -> {_env_from(new)}")
    if old.resources != new.resources:
        lines.append(f"{prefix} resources: {old.resources} -> {new.resources}")
    return lines


def _env_refs(container: Container) -> dict[str, str]:
    """Env var name -> where its value comes from (never the value itself)."""
    refs: dict[str, str] = {}
    for env in container.env:
        source = env.value_from or {}
        for kind in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(kind)
            if isinstance(ref, dict):
                refs[env.name] = f"{kind} {ref.get('name', '')}/{ref.get('key', '')}"
                break
        else:
            refs[env.name] = "field" if source else "literal"
    return refs


def _ref_text(ref: str) -> str:
    return "" if ref == "literal" else f" ({ref})"


def _env_from(container: Container) -> list[str]:
    names = []
    for source in container.env_from:
        if source.config_map_ref is not None:
            names.append(f"configMap {source.config_map_ref.name}")
        if source.secret_ref is not None:
            names.append(f"secret {source.secret_ref.name}")
    return names


def _volume_diff(before: PodSpec, after: PodSpec) -> list[str]:
    def refs(spec: PodSpec) -> dict[str, str]:
        result = {}
        for volume in spec.volumes:
            if volume.config_map is not None:
                result[volume.name] = f"configMap {volume.config_map.name}"
            elif volume.secret is not None:
                result[volume.name] = f"secret {volume.secret.secret_name}"
            elif volume.persistent_volume_claim is not None:
                result[volume.name] = f"claim {volume.persistent_volume_claim.claim_name}"
        return result

    old, new = refs(before), refs(after)
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) != new.get(name):
            lines.append(f"volume {name}: {old.get(name, 'none')} -> {new.get(name, 'none')}")
    return lines
