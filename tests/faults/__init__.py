"""Fault, security and soak suite (issue 8): the running daemon under attack.

Fast subset (in ``make test``): ``pytest tests/faults -n 2 --dist loadgroup``.
Long runs (``make test-slow``): 500 SIGKILLs, 100 with an encrypted session, a short soak.
Soak figures: ``python -m tests.bench.soak --cycles 500`` (``make soak``).

``harness`` builds the rig (simulator, fake Anthropic API, webhook receiver, settings);
``crashloop`` and ``forkserver`` kill and restart the real CLI entry point cheaply;
``planted`` puts secrets and injections into logs, events, annotations and container args.
"""
