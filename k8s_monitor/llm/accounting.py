"""Token accounting: usage per request, billed-equivalent tokens and USD from ``prices.json``.

Billed-equivalent tokens express a request's cost in uncached input tokens of its model:
``input + 1.25 * write_5m + 2 * write_1h + 0.1 * read + (output price / input price) * output``,
so figures compare across modes and cache policies independently of the price level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from k8s_monitor.config import Settings, parse_price_override
from k8s_monitor.errors import ConfigurationError
from k8s_monitor.report import ModelUsage

_PER_MILLION = 1_000_000.0


@dataclass(frozen=True)
class ModelPrice:
    input: float  # USD per million input tokens
    output: float
    context_window: int
    min_cacheable_tokens: int


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrice]
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    def price(self, model: str) -> ModelPrice:
        """The model's prices; an unknown model is a configuration error, never a guess."""
        price = self.models.get(normalize_model_id(model))
        if price is None:
            known = ", ".join(sorted(self.models))
            raise ConfigurationError(
                "ANTHROPIC_MODEL",
                f"{model!r} is not in the price table (known: {known}); set "
                "MODEL_PRICE_OVERRIDE to its prices, e.g. "
                '{"input": 3.0, "output": 15.0, "context_window": 200000, '
                '"min_cacheable_tokens": 1024}',
            )
        return price

    def with_model(self, model: str, price: ModelPrice) -> PriceTable:
        return replace(self, models={**self.models, normalize_model_id(model): price})

    def priced(self, usage: ModelUsage, model: str) -> ModelUsage:
        """``usage`` with ``billed_equivalent_tokens`` and ``cost_usd`` filled in."""
        price = self.price(model)
        equivalent = (
            usage.input_tokens
            + self.cache_write_5m * usage.cache_write_5m_tokens
            + self.cache_write_1h * usage.cache_write_1h_tokens
            + self.cache_read * usage.cache_read_tokens
            + (price.output / price.input) * usage.output_tokens
        )
        return ModelUsage(
            requests=usage.requests,
            input_tokens=usage.input_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens,
            billed_equivalent_tokens=round(equivalent, 3),
            cost_usd=round(equivalent * price.input / _PER_MILLION, 8),
        )


def normalize_model_id(model: str) -> str:
    """``us.anthropic.claude-haiku-5-5-v1:0`` (Bedrock) -> ``claude-haiku-5-5``."""
    name = model.rsplit("anthropic.", 1)[-1]
    if ":" in name:
        name = name.split(":", 1)[0]
    if name.endswith("-v1") or name.endswith("-v2"):
        name = name.rsplit("-", 1)[0]
    return name


@lru_cache(maxsize=1)
def load_price_table() -> PriceTable:
    raw: dict[str, Any] = json.loads(
        resources.files("k8s_monitor.llm").joinpath("prices.json").read_text(encoding="utf-8")
    )
    multipliers = raw["multipliers"]
    return PriceTable(
        models={name: ModelPrice(**values) for name, values in raw["models"].items()},
        cache_write_5m=float(multipliers["cache_write_5m"]),
        cache_write_1h=float(multipliers["cache_write_1h"]),
        cache_read=float(multipliers["cache_read"]),
    )


def price_table_for(settings: Settings) -> PriceTable:
    """The shipped table plus ``MODEL_PRICE_OVERRIDE``; raises when the model has no price.

    Called while the daemon starts, so a model id the table lacks stops it there (exit 2).
    """
    table = load_price_table()
    if settings.model_price_override is not None:
        values = parse_price_override(settings.model_price_override)
        price = ModelPrice(
            input=values["input"],
            output=values["output"],
            context_window=int(values["context_window"]),
            min_cacheable_tokens=int(values["min_cacheable_tokens"]),
        )
        table = table.with_model(settings.anthropic_model, price)
    table.price(settings.anthropic_model)
    return table


def usage_from_api(usage: Any, *, requested_ttl: str | None = None) -> ModelUsage:
    """Map an SDK ``Usage`` (or its dict form) to ``ModelUsage`` for one request.

    ``cache_creation`` splits writes by TTL; when a backend omits it, writes are attributed to
    the TTL the request asked for (``requested_ttl``), else to the documented default, 5m.
    """
    written = int(_field(usage, "cache_creation_input_tokens") or 0)
    creation = _field(usage, "cache_creation")
    if creation is not None:
        five = int(_field(creation, "ephemeral_5m_input_tokens") or 0)
        hour = int(_field(creation, "ephemeral_1h_input_tokens") or 0)
    elif requested_ttl == "1h":
        five, hour = 0, written
    else:
        five, hour = written, 0
    return ModelUsage(
        requests=1,
        input_tokens=int(_field(usage, "input_tokens") or 0),
        cache_write_5m_tokens=five,
        cache_write_1h_tokens=hour,
        cache_read_tokens=int(_field(usage, "cache_read_input_tokens") or 0),
        output_tokens=int(_field(usage, "output_tokens") or 0),
    )


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else getattr(value, key, None)


def usage_to_dict(usage: ModelUsage) -> dict[str, Any]:
    return {name: getattr(usage, name) for name in usage.__struct_fields__}


def usage_from_dict(data: dict[str, Any] | None) -> ModelUsage:
    if not data:
        return ModelUsage()
    known = {k: v for k, v in data.items() if k in ModelUsage.__struct_fields__}
    return ModelUsage(**known)
