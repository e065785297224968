"""Bad Bedrock input stops ``k8s-monitor once`` at start with exit 2 naming the setting.

The cycle never starts: no report is written and no request reaches the (loopback) Bedrock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_monitor.cli import EXIT_CONFIG, main
from tests.fakes.bedrock_server import FakeBedrock
from tests.faults.test_bad_config import restore_logging  # noqa: F401 - a fixture

KUBECONFIG = (
    "apiVersion: v1\nkind: Config\ncurrent-context: sim\n"
    "clusters: [{name: sim, cluster: {server: 'http://127.0.0.1:9'}}]\n"
    "contexts: [{name: sim, context: {cluster: sim, user: sim}}]\n"
    "users: [{name: sim, user: {token: t}}]\n"
)
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAFAKESTART0000001", "AWS_SECRET_ACCESS_KEY": "fake-secret"}


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param(KEYS, "AWS_REGION", id="region-missing"),
        pytest.param(
            {
                **KEYS,
                "AWS_REGION": "us-east-1",
                "ANTHROPIC_MODEL": "us.anthropic.claude-haiku-5-5",
                "BEDROCK_API": "messages",
            },
            "ANTHROPIC_MODEL",
            id="profile-id-on-the-messages-api",
        ),
        pytest.param(
            {**KEYS, "AWS_REGION": "us-east-1", "ANTHROPIC_MODEL": "gpt-4o"},
            "ANTHROPIC_MODEL",
            id="not-a-claude-id",
        ),
        pytest.param(
            {"AWS_REGION": "us-east-1"}, "AWS_WEB_IDENTITY_TOKEN_FILE", id="no-credentials"
        ),
    ],
)
def test_bad_bedrock_input_exits_2_before_the_first_cycle(
    env: dict[str, str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    with FakeBedrock(credentials={KEYS["AWS_ACCESS_KEY_ID"]: "fake-secret"}) as bedrock:
        settings = {
            "LLM_PROVIDER": "bedrock",
            "ANTHROPIC_BASE_URL": bedrock.url,
            "KUBECONFIG": str(tmp_path / "kubeconfig"),
            "SESSION_DIR": str(tmp_path / "sessions"),
            "REPORT_DIR": str(tmp_path / "reports"),
            "METRICS_PORT": "0",
            **env,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        code = main(["once"])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG, err
    assert named in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert bedrock.records == []
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
