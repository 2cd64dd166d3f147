"""Run a client command in the test's event loop, through the real command line (parsing, exit statuses)."""

from __future__ import annotations

import io

from billing_grpc.cli.app import main_async
from tests.e2e.conftest import Running


async def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run `billing-grpc <argv>` as the console script would; its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = await main_async(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def target(running: Running) -> str:
    """The `--target` of the running server."""
    return f"127.0.0.1:{running.server.port}"
