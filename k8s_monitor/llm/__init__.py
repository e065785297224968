"""Talking to Claude: providers, prompts, message building, parsing, accounting, caching.

- ``sdk``: the only ``anthropic`` import (without the unused aiohttp transport).
- ``providers``: the Anthropic API / Bedrock through the SDK,
  typed error mapping, the spend-limit guard; ``build_provider(settings)`` (``None`` = offline).
- ``bedrock_ids``: which Bedrock integration serves a model id, and the id to send.
- ``bedrock``: the Bedrock SDK clients, SigV4 from the AWS chain, Bedrock's errors.
- ``prompts``: the versioned, byte-stable system prompt.
- ``render``: the cycle message (delta / full / stateless) within a token budget.
- ``wire``: stored history to a request the Messages API accepts; redaction on the way out.
- ``cache``: breakpoint placement and the TTL policy (with its cost model).
- ``analysis``: the structured answer (``CycleAnalysis``) and its JSON schema.
- ``offline``: the deterministic analysis (offline mode and fallback).
- ``accounting``: usage, billed-equivalent tokens and USD from ``prices.json``.
"""
