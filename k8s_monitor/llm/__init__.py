"""Talking to Claude: providers, prompts, message building, parsing, accounting, caching."""
