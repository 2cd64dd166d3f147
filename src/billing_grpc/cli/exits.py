"""Exit statuses: one table (BSD sysexits), and the one-line message every failure ends with.

gRPC statuses and local errors map here and nowhere else, so a script can tell "fix the command"
(64, 65), "it is not there" (66), "try again later" (69, 75), "not allowed" (77) and "fix the
configuration" (78) apart without reading the message.
"""

from __future__ import annotations

import errno
from enum import IntEnum

import grpc
from grpc import aio
from pymongo.errors import ConnectionFailure

from billing_grpc.cli.remote import CommandError, describe_error
from billing_grpc.exclusive import Unavailable
from billing_grpc.settings import ConfigurationError


class Exit(IntEnum):
    """The statuses `billing-grpc` exits with (docs/cli.md has the table)."""

    OK = 0
    # `replay --verify` found a difference: a finding, like diff(1) reporting one, not a failure to run.
    MISMATCH = 1
    USAGE = 64  # EX_USAGE: bad arguments or options
    DATA = 65  # EX_DATAERR: the server refused the input, or the state does not allow the action
    NO_INPUT = 66  # EX_NOINPUT: a missing input file, or a resource the server does not know
    UNAVAILABLE = 69  # EX_UNAVAILABLE: the server or the store cannot be reached
    SOFTWARE = 70  # EX_SOFTWARE: an internal error (a bug): rerun with --debug for the traceback
    CANT_CREATE = 73  # EX_CANTCREAT: an output file cannot be created
    IO = 74  # EX_IOERR: reading or writing failed
    TEMPORARY = 75  # EX_TEMPFAIL: try again later (a conflict, a limit, a time-out, a payment pending)
    NO_PERMISSION = 77  # EX_NOPERM: bad credentials, or roles that do not allow the call
    CONFIG = 78  # EX_CONFIG: bad configuration (environment variables)
    # stdout was closed early (`billing-grpc events list | head -1`): what a process killed by
    # SIGPIPE reports (128 + 13), so `set -o pipefail` sees the same as with any other tool.
    BROKEN_PIPE = 141
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


GRPC_EXITS: dict[grpc.StatusCode, Exit] = {
    grpc.StatusCode.INVALID_ARGUMENT: Exit.DATA,
    grpc.StatusCode.OUT_OF_RANGE: Exit.DATA,
    grpc.StatusCode.FAILED_PRECONDITION: Exit.DATA,
    grpc.StatusCode.ALREADY_EXISTS: Exit.DATA,
    grpc.StatusCode.NOT_FOUND: Exit.NO_INPUT,
    grpc.StatusCode.UNAVAILABLE: Exit.UNAVAILABLE,
    grpc.StatusCode.ABORTED: Exit.TEMPORARY,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Exit.TEMPORARY,
    grpc.StatusCode.DEADLINE_EXCEEDED: Exit.TEMPORARY,
    grpc.StatusCode.CANCELLED: Exit.TEMPORARY,
    grpc.StatusCode.UNAUTHENTICATED: Exit.NO_PERMISSION,
    grpc.StatusCode.PERMISSION_DENIED: Exit.NO_PERMISSION,
    grpc.StatusCode.UNIMPLEMENTED: Exit.SOFTWARE,
    grpc.StatusCode.INTERNAL: Exit.SOFTWARE,
    grpc.StatusCode.UNKNOWN: Exit.SOFTWARE,
    grpc.StatusCode.DATA_LOSS: Exit.SOFTWARE,
}

def classify(error: BaseException) -> tuple[Exit, list[str]]:
    """The exit status for `error` and the lines that explain it (one, except per-field lists)."""
    if isinstance(error, CommandError):
        return Exit(error.exit), [str(error)]
    if isinstance(error, aio.AioRpcError):
        return GRPC_EXITS.get(error.code(), Exit.SOFTWARE), [describe_error(error)]
    if isinstance(error, ConfigurationError):  # one line per bad value, secrets never echoed
        return Exit.CONFIG, [f"invalid configuration: {line}" for line in error.lines]
    if isinstance(error, Unavailable):  # a busy port or data folder, settings --workers cannot share
        return Exit(error.exit_code), [str(error)]
    if isinstance(error, ConnectionFailure):
        return Exit.UNAVAILABLE, [f"the store cannot be reached: {_first_line(error)}"]
    if isinstance(error, KeyboardInterrupt):
        return Exit.INTERRUPTED, ["interrupted"]
    if isinstance(error, OSError):
        return _os_error(error)
    return Exit.SOFTWARE, [f"internal error: {type(error).__name__}: {_first_line(error)} (rerun with --debug)"]


def _os_error(error: OSError) -> tuple[Exit, list[str]]:
    where = f"{error.filename}: " if error.filename else ""
    text = f"{where}{error.strerror or error}"
    if error.errno == errno.ENOENT:
        return Exit.NO_INPUT, [f"cannot open {text}"]
    if error.errno in {errno.EACCES, errno.EPERM}:
        return Exit.NO_PERMISSION, [f"cannot open {text}"]
    if error.errno in {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH}:
        return Exit.UNAVAILABLE, [text]
    return Exit.IO, [text]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"
