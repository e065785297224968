"""The adapter to the model: how a request reaches Claude and what it costs, nothing more.

- ``sdk``: the only ``anthropic`` import (without the unused aiohttp transport).
- ``providers``: the Anthropic API / Bedrock through the SDK,
  typed error mapping, the spend-limit guard; ``build_provider(settings)`` (``None`` = offline).
- ``protocol``: the provider seam (``ModelRequest`` in, ``ModelReply`` out).
- ``bedrock_ids``: which Bedrock integration serves a model id, and the id to send.
- ``bedrock``: the Bedrock SDK clients, SigV4 from the AWS chain, Bedrock's errors.
- ``wire``: stored history to a request the Messages API accepts; redaction on the way out.
- ``cache``: breakpoint placement and the TTL policy (with its cost model).
- ``accounting``: usage, billed-equivalent tokens and USD from ``prices.json``.

What the model is told (prompts, the cycle message, the answer schema, the offline analysis)
lives in ``converse``; an import-linter contract keeps this package from reaching up.
"""
