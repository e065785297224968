"""The SDK loads without the asyncio transport, and aiohttp stays importable for others."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import sys
    from k8s_monitor.llm.providers import build_provider
    from k8s_monitor.llm.sdk import anthropic
    assert "aiohttp" not in sys.modules, "the SDK loaded aiohttp"
    assert anthropic.Anthropic and build_provider
    import aiohttp  # hidden only while the SDK loaded
    assert sys.modules["aiohttp"] is aiohttp
    print("ok")
    """
)


def test_the_sdk_is_imported_without_aiohttp_which_stays_importable() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


_ALREADY_LOADED = textwrap.dedent(
    """
    import sys
    import aiohttp
    from k8s_monitor.llm.sdk import anthropic
    assert sys.modules["aiohttp"] is aiohttp  # left as it was
    print("ok")
    """
)


def test_an_aiohttp_loaded_earlier_is_left_alone() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _ALREADY_LOADED],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
