"""Bad configuration: every setting given an invalid value stops the program with exit code 2,
one line naming the setting, no traceback.

All settings run in-process through the CLI entry point (``k8s_monitor.cli.main(["once"])``,
the same path ``run`` takes: settings, logging, assembly); a handful run as real subprocesses to
check the exit code, the wall time and that the error comes before the heavy imports.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import k8s_monitor.wiring  # noqa: F401 - imported up front: in-process timings measure checks
from k8s_monitor.cli import EXIT_CONFIG, main
from k8s_monitor.config import Settings
from tests.conftest import clean_env

REPO = Path(__file__).resolve().parents[2]
MISSING = "/nonexistent/k8s-monitor/file"
GOOD_KEY = "0DeoJX9t9ujmLZ0LWgbzL3OKmj1u1S7cHBBNbSWaN8Y="

# Settings for which no string is invalid: any list of names, any host string.
NO_INVALID_VALUE = {
    "critical_keywords": "any comma-separated words are keywords",
    "namespace_include": "any names; a namespace that does not exist simply matches nothing",
    "namespace_exclude": "as namespace_include",
    "metrics_host": "checked by the bind at start-up (run only), not by settings",
    "aws_region": "any region name; only Bedrock uses it",
    "label_selector": "checked by the apiserver, which answers 400 for a bad selector",
    "anthropic_api_key": "any non-empty string; the API judges it",
}

# (setting, invalid value, extra environment); {tmp} is the test's directory.
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("enable_long_context", "maybe", {}),
    ("session_id", "../escape", {}),
    ("session_id", "x" * 200, {}),
    ("max_context_tokens", "10", {}),
    ("max_context_tokens", "lots", {}),
    ("context_prune_threshold", "0", {}),
    ("context_prune_threshold", "1.5", {}),
    ("prune_target_ratio", "1", {}),
    ("session_dir", "{tmp}/a-file", {}),
    ("session_backups", "-1", {}),
    ("session_backups", "101", {}),
    ("session_encryption_key", "not-a-fernet-key", {}),
    ("session_encryption_key_file", MISSING, {}),
    ("session_encryption_key_file", "{tmp}/bad-keys", {}),
    ("monitoring_interval_minutes", "0", {}),
    ("monitoring_interval_minutes", "-5", {}),
    ("monitoring_interval_minutes", "often", {}),
    ("scheduler_jitter_seconds", "-1", {}),
    ("misfire_grace_seconds", "0", {}),
    ("shutdown_deadline_seconds", "601", {}),
    ("log_level", "LOUD", {}),
    ("log_format", "xml", {}),
    ("report_dir", "{tmp}/a-file", {}),
    ("report_retention", "0", {}),
    ("metrics_port", "70000", {}),
    ("metrics_port", "http", {}),
    ("cluster_name", "", {}),
    ("kubeconfig", MISSING, {}),
    ("kubeconfig", "{tmp}/garbage-kubeconfig", {}),
    ("kube_context", "no-such-context", {"KUBECONFIG": "{tmp}/kubeconfig"}),
    ("collect_page_size", "0", {}),
    ("collect_timeout_seconds", "0", {}),
    ("collect_concurrency", "33", {}),
    ("event_window_minutes", "0", {}),
    ("log_tail_lines", "-1", {}),
    ("log_tail_bytes", "2000000", {}),
    ("log_tail_max_containers", "501", {}),
    ("redact_patterns", "([unclosed", {}),
    ("blind_after_failures", "0", {}),
    ("services_file", MISSING, {}),
    ("services_file", "{tmp}/services-malformed.yaml", {}),
    ("resolve_after_cycles", "0", {}),
    ("notify_cooldown_minutes", "-1", {}),
    ("slack_webhook_url", "not a url", {}),
    ("webhook_url", "ftp://example.com/hook", {}),
    ("notify_timeout_seconds", "0", {}),
    ("llm_provider", "gpt", {}),
    ("llm_provider", "anthropic", {}),  # without ANTHROPIC_API_KEY
    ("anthropic_model", "", {}),
    ("anthropic_base_url", "localhost:8080", {}),
    ("llm_max_output_tokens", "100", {}),
    ("llm_timeout_seconds", "0", {}),
    ("llm_max_retries", "11", {}),
    ("cycle_message_max_tokens", "10", {}),
    ("compare_modes", "perhaps", {}),
    ("investigate", "sometimes", {}),
    ("investigate_max_incidents", "-1", {}),
    ("investigate_max_tool_calls", "0", {}),
    ("investigate_max_tokens", "100", {}),
    ("investigate_deadline_seconds", "0", {}),
    ("tool_output_max_tokens", "10", {}),
]


def _prepare(tmp: Path) -> None:
    (tmp / "a-file").write_text("not a directory\n")
    (tmp / "bad-keys").write_text("this is not a fernet key\n")
    (tmp / "garbage-kubeconfig").write_text(": : not yaml [\n")
    (tmp / "services-malformed.yaml").write_text("services: [name: {unclosed\n")
    (tmp / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: sim\n"
        "clusters: [{name: sim, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: sim, context: {cluster: sim, user: sim}}]\n"
        "users: [{name: sim, user: {token: t}}]\n"
    )


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    structlog.reset_defaults()


def _case_id(case: tuple[str, str, dict[str, str]]) -> str:
    name, value, _ = case
    return f"{name}={value[:24]}"


def test_every_setting_has_an_invalid_value_case() -> None:
    covered = {name for name, _, _ in CASES} | set(NO_INVALID_VALUE)
    assert set(Settings.model_fields) <= covered, set(Settings.model_fields) - covered


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("name", "value", "extra"), CASES, ids=[_case_id(c) for c in CASES])
def test_invalid_setting_exits_2_naming_it(
    name: str,
    value: str,
    extra: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _prepare(tmp_path)
    env = {name.upper(): value, **extra}
    for key, text in env.items():
        monkeypatch.setenv(key, text.replace("{tmp}", str(tmp_path)))
    if name == "session_dir":
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    started = time.monotonic()
    code = main(["once"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG, err
    assert name.upper() in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert elapsed < 2.0


SUBPROCESS_CASES = [
    pytest.param({"MAX_CONTEXT_TOKENS": "10"}, "MAX_CONTEXT_TOKENS", id="range"),
    pytest.param({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", id="enum"),
    pytest.param(
        {"SESSION_ENCRYPTION_KEY": "not-a-fernet-key"},
        "SESSION_ENCRYPTION_KEY",
        id="bad-encryption-key",
    ),
    pytest.param(
        {"SERVICES_FILE": "{tmp}/services-malformed.yaml"},
        "SERVICES_FILE",
        id="malformed-services-yaml",
    ),
    pytest.param(
        {"KUBECONFIG": "{tmp}/kubeconfig", "KUBE_CONTEXT": "no-such-context"},
        "KUBE_CONTEXT",
        id="unknown-kube-context",
    ),
]

_PROBE = (
    "import sys\n"
    "from k8s_monitor.cli import main\n"
    "code = main(['run'])\n"
    "heavy = sorted(m for m in ('anthropic', 'kubernetes') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy))\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize(("env", "name"), SUBPROCESS_CASES)
def test_invalid_setting_in_a_real_process_exits_2_fast(
    env: dict[str, str], name: str, tmp_path: Path
) -> None:
    _prepare(tmp_path)
    values = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**clean_env(**values), "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"FIGURE bad-config {name}: wall={wall:.2f}s cpu={cpu:.2f}s")
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    assert name in proc.stderr
    assert "Traceback" not in proc.stderr
    # The structural reason for "within 2 s": nothing heavy is imported before the check.
    assert "HEAVY=\n" in proc.stdout, proc.stdout
    assert cpu < 2.0 or os.environ.get("CI_SLOW_MACHINE")
