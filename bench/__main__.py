"""Run the benchmarks: `python -m bench [name ...]` (default: all)."""

from __future__ import annotations

import argparse
import asyncio

from bench import eventstore

BENCHMARKS = {"eventstore": eventstore.main}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], help="benchmarks to run")
    for name in parser.parse_args().names or list(BENCHMARKS):
        asyncio.run(BENCHMARKS[name]())


if __name__ == "__main__":
    main()
