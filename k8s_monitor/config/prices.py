"""``MODEL_PRICE_OVERRIDE``: parsing the JSON price of a model the shipped table does not know."""

from __future__ import annotations

import json

PRICE_OVERRIDE_FIELDS = ("input", "output", "context_window", "min_cacheable_tokens")


def parse_price_override(text: str) -> dict[str, float]:
    """``MODEL_PRICE_OVERRIDE``: a JSON object with exactly the price table's fields."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected a JSON object: {exc}") from exc
    expected = ", ".join(PRICE_OVERRIDE_FIELDS)
    if not isinstance(data, dict) or set(data) != set(PRICE_OVERRIDE_FIELDS):
        raise ValueError(f"expected a JSON object with exactly the keys {expected}")
    values: dict[str, float] = {}
    for key in PRICE_OVERRIDE_FIELDS:
        number = data[key]
        if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
            raise ValueError(f"{key}: expected a positive number, got {number!r}")
        values[key] = float(number)
    return values
