from __future__ import annotations

import pytest

from k8s_monitor.config import Settings, load_settings
from k8s_monitor.errors import ConfigurationError
from k8s_monitor.llm.accounting import (
    load_price_table,
    normalize_model_id,
    price_table_for,
    usage_from_api,
    usage_from_dict,
    usage_to_dict,
)
from k8s_monitor.llm.cache import cache_ttl_for_interval, count_breakpoints, place_breakpoints
from k8s_monitor.report import ModelUsage


@pytest.mark.parametrize(
    ("minutes", "ttl"),
    [(1, "5m"), (4, "5m"), (4.5, "1h"), (15, "1h"), (55, "1h"), (56, None), (240, None)],
)
def test_ttl_follows_the_interval(minutes, ttl):
    assert cache_ttl_for_interval(minutes) == ttl


def _conversation(turns):
    messages = []
    for i in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"u{i}"}]})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": f"a{i}"}]})
    messages.append({"role": "user", "content": [{"type": "text", "text": "new"}]})
    return messages


def test_breakpoints_on_system_previous_answer_and_new_message():
    system = [{"type": "text", "text": "s"}]
    messages = _conversation(5)
    place_breakpoints(system, messages, "1h")
    assert count_breakpoints(system, messages) == 3
    assert "cache_control" in system[0]
    assert "cache_control" in messages[-1]["content"][-1]
    assert "cache_control" in messages[-2]["content"][-1]
    assert all("cache_control" not in b for m in messages[:-2] for b in m["content"])


def test_no_breakpoints_when_the_interval_outlives_the_ttl():
    system = [{"type": "text", "text": "s"}]
    messages = _conversation(2)
    place_breakpoints(system, messages, None)
    assert count_breakpoints(system, messages) == 0


def test_billed_equivalent_and_cost():
    table = load_price_table()
    usage = ModelUsage(
        requests=1,
        input_tokens=1000,
        cache_write_5m_tokens=1000,
        cache_write_1h_tokens=1000,
        cache_read_tokens=10_000,
        output_tokens=100,
    )
    priced = table.priced(usage, "claude-haiku-5-5")
    price = table.price("claude-haiku-5-5")
    ratio = price.output / price.input
    expected = 1000 + 1250 + 2000 + 1000 + ratio * 100
    assert priced.billed_equivalent_tokens == pytest.approx(expected)
    assert priced.cost_usd == pytest.approx(expected * price.input / 1e6)


def test_an_unknown_model_is_a_configuration_error_naming_the_override():
    table = load_price_table()
    with pytest.raises(ConfigurationError) as caught:
        table.price("claude-unknown-9")
    assert caught.value.setting == "ANTHROPIC_MODEL"
    assert "MODEL_PRICE_OVERRIDE" in str(caught.value)


def test_settings_with_an_unknown_model_fail_unless_overridden():
    settings = Settings(_env_file=None, anthropic_model="claude-unknown-9")
    with pytest.raises(ConfigurationError, match="claude-unknown-9"):
        price_table_for(settings)
    override = (
        '{"input": 2.0, "output": 8.0, "context_window": 300000, "min_cacheable_tokens": 2048}'
    )
    table = price_table_for(settings.model_copy(update={"model_price_override": override}))
    price = table.price("claude-unknown-9")
    assert (price.input, price.output, price.context_window) == (2.0, 8.0, 300_000)
    assert price.min_cacheable_tokens == 2048
    priced = table.priced(ModelUsage(requests=1, input_tokens=1_000_000), "claude-unknown-9")
    assert priced.cost_usd == pytest.approx(2.0)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1]",
        '{"input": 1}',
        '{"input": 0, "output": 1, "context_window": 1, "min_cacheable_tokens": 1}',
    ],
)
def test_a_malformed_price_override_names_the_variable(text: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, model_price_override=text)
    assert caught.value.setting == "MODEL_PRICE_OVERRIDE"


@pytest.mark.parametrize(
    "model",
    ["claude-haiku-5-5", "anthropic.claude-haiku-5-5", "us.anthropic.claude-haiku-5-5-v1:0"],
)
def test_bedrock_ids_normalise(model):
    assert normalize_model_id(model) == "claude-haiku-5-5"


def test_usage_from_api_splits_writes_by_ttl():
    usage = usage_from_api(
        {
            "input_tokens": 5,
            "output_tokens": 7,
            "cache_read_input_tokens": 11,
            "cache_creation_input_tokens": 30,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
        }
    )
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (10, 20)
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (5, 7, 11)
    legacy = usage_from_api(
        {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 9}
    )
    assert legacy.cache_write_5m_tokens == 9
    hour = usage_from_api({"input_tokens": 1, "cache_creation_input_tokens": 9}, requested_ttl="1h")
    assert (hour.cache_write_5m_tokens, hour.cache_write_1h_tokens) == (0, 9)


def test_usage_round_trips_through_metadata():
    usage = ModelUsage(requests=2, input_tokens=3, cost_usd=0.5)
    assert usage_from_dict(usage_to_dict(usage)) == usage
    assert usage_from_dict(None) == ModelUsage()
    assert usage_from_dict({"requests": 1, "unknown": 5}).requests == 1
