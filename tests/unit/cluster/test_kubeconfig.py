"""Config loading: explicit kubeconfig first, then in-cluster, then ~/.kube/config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from k8s_monitor.cluster.kubeconfig import ServiceAccountToken, load_api_client
from k8s_monitor.config import Settings
from k8s_monitor.errors import ConfigurationError


def _kubeconfig(path: Path, contexts: dict[str, str]) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": url}} for n, url in contexts.items()],
        "users": [{"name": "u", "user": {"token": "t0k"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in contexts],
        "current-context": next(iter(contexts)),
    }))  # fmt: skip
    return path


def test_kubeconfig_current_and_named_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", {"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"})
    first = load_api_client(Settings(kubeconfig=path, _env_file=None), environ={})
    second = load_api_client(
        Settings(kubeconfig=path, kube_context="b", _env_file=None), environ={}
    )
    assert first.configuration.host == "http://127.0.0.1:1"
    assert second.configuration.host == "http://127.0.0.1:2"
    assert first.configuration.get_api_key_with_prefix("BearerToken") == "Bearer t0k"


def test_unknown_context_is_a_configuration_error(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", {"a": "http://127.0.0.1:1"})
    # Settings refuse this at load; the loader checks again for ~/.kube/config, which
    # Settings never reads. model_construct skips the Settings check to reach the loader's.
    settings = Settings.model_construct(
        **{**Settings(_env_file=None).model_dump(), "kubeconfig": path, "kube_context": "nope"}
    )
    with pytest.raises(ConfigurationError) as caught:
        load_api_client(settings, environ={})
    assert caught.value.setting == "KUBE_CONTEXT"


def test_explicit_kubeconfig_wins_over_in_cluster(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", {"a": "http://127.0.0.1:1"})
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    client = load_api_client(Settings(kubeconfig=path, _env_file=None), environ=environ)
    assert client.configuration.host == "http://127.0.0.1:1"


def test_in_cluster_reads_token_and_ca(tmp_path: Path) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token\n")
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    client = load_api_client(Settings(kubeconfig=None, _env_file=None), environ=environ,
                             token_file=token, ca_file=ca)  # fmt: skip
    assert client.configuration.host == "https://10.96.0.1:443"
    assert client.configuration.ssl_ca_cert == str(ca)
    assert client.configuration.get_api_key_with_prefix("BearerToken") == "Bearer sa-token"


def test_nothing_configured_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config here
    with pytest.raises(ConfigurationError, match="no kubeconfig"):
        load_api_client(Settings(kubeconfig=None, _env_file=None), environ={})


def test_token_is_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    token = ServiceAccountToken(path)
    assert token.current() == "one"
    aside = tmp_path / "token.new"
    aside.write_text("two")
    os.replace(aside, path)
    assert token.current() == "two"


def test_token_keeps_last_value_if_file_vanishes_briefly(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    token = ServiceAccountToken(path)
    token.current()
    path.unlink()
    assert token.current() == "one"


def test_missing_token_at_start_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        ServiceAccountToken(tmp_path / "absent").current()
