"""``Section``: the base of each group of settings that ``Settings`` inherits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Fields and checks of one concern. Only ``Settings`` is instantiated, so a section's own
    validation schema is never built (it would cost start-up time for nothing)."""

    model_config = ConfigDict(defer_build=True)
