"""Settings: seed defaults, parsing, and one-line exit-2 errors for every kind of bad value."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from k8s_monitor.config import LLMProvider, Settings, load_settings
from k8s_monitor.config.section import Section
from k8s_monitor.errors import ConfigurationError
from tests.conftest import clean_env


def test_seed_defaults_are_kept() -> None:
    settings = load_settings()
    assert settings.enable_long_context is False
    assert settings.session_id == "k8s-monitor-default"
    assert settings.max_context_tokens == 120_000
    assert settings.context_prune_threshold == 0.8
    assert settings.session_dir == Path("sessions")
    assert settings.monitoring_interval_minutes == 15
    assert settings.mode == "stateless"


def test_comma_lists_and_fractional_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMESPACE_EXCLUDE", "kube-system, kube-public,")
    monkeypatch.setenv("MONITORING_INTERVAL_MINUTES", "0.05")
    monkeypatch.setenv("ENABLE_LONG_CONTEXT", "true")
    settings = load_settings()
    assert settings.namespace_exclude == ["kube-system", "kube-public"]
    assert settings.interval_seconds == pytest.approx(3.0)
    assert settings.mode == "persistent"


def test_auto_provider_follows_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().resolved_provider is LLMProvider.OFFLINE
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert load_settings().resolved_provider is LLMProvider.ANTHROPIC


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SESSION_ID=from-dotenv\n")
    assert load_settings().session_id == "from-dotenv"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MAX_CONTEXT_TOKENS", "lots", "valid integer"),  # wrong type
        ("CONTEXT_PRUNE_THRESHOLD", "1.5", "less than or equal to 1"),  # out of range
        ("MONITORING_INTERVAL_MINUTES", "0", "greater than 0"),  # out of range
        ("LLM_PROVIDER", "openai", "auto"),  # unknown enum, names the choices
        ("LOG_FORMAT", "xml", "json"),
        ("ENABLE_LONG_CONTEXT", "maybe", "valid boolean"),
        ("SESSION_ID", "../etc/passwd", "pattern"),
        ("KUBECONFIG", "/nonexistent/kubeconfig", "readable file"),  # unreadable path
        ("SERVICES_FILE", "/nonexistent/services.yaml", "readable file"),
        ("REDACT_PATTERNS", "([unclosed", "regular expression"),
    ],
)
def test_invalid_value_names_the_variable(
    name: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.setting == name
    assert expected in caught.value.problem


def test_secret_values_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "anthropic")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-supersecret")
    monkeypatch.setenv("SESSION_ENCRYPTION_KEY_FILE", "/nonexistent")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "supersecret" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_CONTEXT_TOKENS", "lots"),
        ("CONTEXT_PRUNE_THRESHOLD", "2"),
        ("LLM_PROVIDER", "openai"),
        ("KUBECONFIG", "/nonexistent/kubeconfig"),
    ],
)
def test_daemon_stops_with_exit_2_and_one_line(name: str, value: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "k8s_monitor", "once"],
        env=clean_env(**{name: value}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr
    assert elapsed < 10  # generous for a loaded CI machine; typically well under a second


def test_redact_patterns_keep_their_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACT_PATTERNS", "acct-[0-9]{2,5}\ninternal-[a-z]+")
    assert load_settings().redact_patterns == ["acct-[0-9]{2,5}", "internal-[a-z]+"]
    monkeypatch.setenv("REDACT_PATTERNS", '["x{1,2}", "y"]')
    assert load_settings().redact_patterns == ["x{1,2}", "y"]


def test_unknown_kube_context_is_named_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- name: prod\n  context: {}\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KUBE_CONTEXT", "prod")
    assert load_settings().kube_context == "prod"
    monkeypatch.setenv("KUBE_CONTEXT", "staging")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.setting == "KUBE_CONTEXT"
    assert "prod" in caught.value.problem  # names what is there


def _sections() -> list[type[Section]]:
    """The section classes ``Settings`` is composed of, in its MRO order."""
    return [
        base for base in Settings.__mro__[1:] if issubclass(base, Section) and base is not Section
    ]


def test_every_section_validator_reaches_settings() -> None:
    # pydantic keys inherited validators by method name: two sections defining the same name
    # would silently drop one of them.
    for section in _sections():
        for kind in ("field_validators", "model_validators"):
            own = getattr(section.__pydantic_decorators__, kind)
            for name, decorator in own.items():
                inherited = getattr(Settings.__pydantic_decorators__, kind)[name]
                assert inherited.func.__qualname__ == decorator.func.__qualname__, name


def test_fields_keep_the_section_order() -> None:
    # The first error a bad environment reports follows field order: session first, as the
    # flat class declared them before the split.
    by_name = {section.__name__: section for section in _sections()}
    order = [
        "SessionSection",
        "SchedulingSection",
        "OutputSection",
        "ClusterSection",
        "AnalysisSection",
        "NotificationSection",
        "AlertingSection",
        "ModelSection",
        "InvestigationSection",
    ]
    assert sorted(by_name) == sorted(order)
    declared = [name for section in order for name in by_name[section].model_fields]
    assert list(Settings.model_fields) == declared
