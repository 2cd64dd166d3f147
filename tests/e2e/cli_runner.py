"""Run a client command (`demo`, `keys`) in the test's event loop, through the real argument parser."""

from __future__ import annotations

import io

from billing_grpc import cli
from tests.e2e.conftest import Running


async def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Parse `argv` as `billing-grpc` would and run the command; its exit status, stdout and stderr."""
    options = cli.build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = await options.run(options, out, err)
    return code, out.getvalue(), err.getvalue()


def target(running: Running) -> str:
    """The `--target` of the running server."""
    return f"127.0.0.1:{running.server.port}"
