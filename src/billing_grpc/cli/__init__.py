"""The `billing-grpc` command line: one module per command group, Click underneath (docs/cli.md).

`main` is imported lazily so that importing a helper module of this package (the demo's tables
import `remote`) does not load every command.
"""

from __future__ import annotations

from typing import TextIO


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the console script: run one command, return its exit status."""
    from billing_grpc.cli.app import main as run

    return run(argv, out, err)


__all__ = ["main"]
