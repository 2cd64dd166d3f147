"""Run the benchmarks: `python -m bench [name ...]` (default: all). Results go to bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from bench import billing, entitlements, eventstore, ingest, replay, soak

BENCHMARKS: dict[str, Callable[[], Any]] = {
    "eventstore": eventstore.main,
    "ingest": ingest.main,
    "billing": billing.main,
    "entitlements": entitlements.main,
    "replay": replay.main,
    "soak": soak.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args().names or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    for name in names:
        outcome = BENCHMARKS[name]()
        if inspect.iscoroutine(outcome):
            asyncio.run(outcome)


if __name__ == "__main__":
    main()
