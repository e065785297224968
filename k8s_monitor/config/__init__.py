"""Settings: the one place every environment variable is declared and validated.

One module per concern (``session``, ``scheduling``, ``output``, ``cluster``, ``analysis``,
``notification``, ``alerting``, ``model``, ``investigation``), composed into ``Settings`` in
``settings``; ``loading`` turns a bad value into one ``ConfigurationError``. Every field must
also appear in ``.env.example`` and the README table (a test checks they agree).
"""

from __future__ import annotations

from k8s_monitor.config.checks import CommaList, read_secret_file
from k8s_monitor.config.keys import parse_fernet_keys
from k8s_monitor.config.loading import SECRET_FIELDS, env_name, load_settings
from k8s_monitor.config.model import BedrockApi, CallPolicy, LLMProvider
from k8s_monitor.config.output import LogFormat, LogLevel
from k8s_monitor.config.prices import PRICE_OVERRIDE_FIELDS, parse_price_override
from k8s_monitor.config.settings import Settings

__all__ = [
    "PRICE_OVERRIDE_FIELDS",
    "SECRET_FIELDS",
    "BedrockApi",
    "CallPolicy",
    "CommaList",
    "LLMProvider",
    "LogFormat",
    "LogLevel",
    "Settings",
    "env_name",
    "load_settings",
    "parse_fernet_keys",
    "parse_price_override",
    "read_secret_file",
]
