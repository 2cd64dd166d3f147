"""The `billing-grpc` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from billing_grpc.logs import configure_logging
from billing_grpc.settings import Settings, ValidationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing-grpc", description="Subscription and usage billing over gRPC.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the gRPC server",
        description="Run the gRPC server until SIGINT or SIGTERM. "
        "Configuration comes from environment variables (see README); --listen overrides BILLING_LISTEN.",
    )
    serve.add_argument("--listen", help="host:port to listen on")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    options = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValidationError as error:
        print(f"invalid configuration:\n{error}", file=sys.stderr)
        return 2
    if options.listen:
        settings = settings.model_copy(update={"listen": options.listen})
    configure_logging(settings.log_level, settings.log_format)
    if options.command == "serve":
        from billing_grpc.api.server import serve

        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
