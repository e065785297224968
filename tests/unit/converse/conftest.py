from __future__ import annotations

import anthropic
import pytest

from k8s_monitor.config import Settings
from k8s_monitor.llm.providers import AnthropicProvider, spend_limit_guard
from tests.fakes.anthropic_server import FakeAnthropic
from tests.unit.llm.helpers import FileSessions


@pytest.fixture
def fake():
    server = FakeAnthropic(min_cacheable_tokens=64).serve()
    yield server
    server.close()


@pytest.fixture
def sessions(tmp_path):
    return FileSessions(tmp_path / "sessions")


@pytest.fixture
def make_settings(tmp_path, fake):
    def build(**overrides) -> Settings:
        (tmp_path / "sessions").mkdir(exist_ok=True)
        values = {
            "llm_provider": "anthropic",
            "anthropic_api_key": "test-key",
            "anthropic_base_url": fake.url,
            "llm_max_retries": 0,
            "llm_timeout_seconds": 2.0,
            "session_dir": tmp_path / "sessions",
            "report_dir": tmp_path / "reports",
            "enable_long_context": True,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return build


@pytest.fixture
def make_provider(fake):
    def build(*, context_window: int | None = None, retries: int = 0, timeout: float = 2.0):
        client = anthropic.Anthropic(
            api_key="test-key",
            base_url=fake.url,
            max_retries=retries,
            timeout=timeout,
            middleware=[spend_limit_guard],
        )
        return AnthropicProvider(
            client, model="claude-haiku-5-5", name="anthropic", context_window=context_window
        )

    return build
