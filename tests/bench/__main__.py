"""``make bench``: every benchmark once, each in its own process, one JSON object per line.

Each benchmark measures its own baseline in the same run and prints ratios; this runner only
sequences them and fails when one of them fails (a missed target exits non-zero).
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    ("sessions", ["--repeat", "9"]),
    ("collect", ["--pods", "10000", "--repeat", "3"]),
    ("evidence", ["--pods", "10000", "--failing", "200", "--repeat", "5"]),
    ("tokens", ["--cycles", "96", "--interval-minutes", "15"]),
    ("alertmanager", ["--incidents", "500", "--pods", "25000", "--cycles", "5"]),
    ("investigate", ["--cycles", "96", "--interval-minutes", "15"]),
)


def main() -> int:
    failed = []
    for name, args in BENCHMARKS:
        print(f"# tests.bench.{name} {' '.join(args)}", file=sys.stderr, flush=True)
        result = subprocess.run([sys.executable, "-m", f"tests.bench.{name}", *args], check=False)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
