"""The ``anthropic`` SDK, imported without the asyncio transport it would load and we never use.

At import the SDK loads ``aiohttp``, if installed, to offer ``DefaultAioHttpClient``; the
``kubernetes`` package always installs it (for its asyncio client, also unused here). The daemon
is synchronous, and that one import is about 8 MB of the pod's idle RSS (116 -> 108 MB after
every import, measured). The SDK falls back by itself when aiohttp is missing, so it is hidden
while the SDK loads, then made importable again for anyone who does want it.

Import the SDK from here (``from k8s_monitor.llm.sdk import anthropic``); an import-linter
contract keeps every other module from importing it first.
"""

from __future__ import annotations

import sys

_HIDDEN = "aiohttp"
_hide = _HIDDEN not in sys.modules
if _hide:
    sys.modules[_HIDDEN] = None  # type: ignore[assignment]  # None: "import fails" by design
try:
    import anthropic
finally:
    if _hide and sys.modules.get(_HIDDEN, ...) is None:
        del sys.modules[_HIDDEN]

__all__ = ["anthropic"]
