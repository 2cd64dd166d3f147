"""An export's output file: written whole or not at all, never appended to, replaced only on request.

The events go to a hidden temporary file in the target's folder (so the final rename stays on
one file system), which becomes the target only once every event is written and synced. An
export that fails or is interrupted (an exception, Ctrl-C) removes the temporary file and
leaves the target as it was; one killed outright (SIGKILL, power loss) may leave the hidden
`.NAME.*.part` behind, never a partial NAME.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


class OutputRefused(OSError):
    """The output file cannot be created (nothing was written)."""


class OutputExists(OutputRefused):
    """The output file exists and replacing it was not asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists: an export never appends; pass --force to replace it")


def refuse_existing(path: Path, *, force: bool) -> None:
    """Raise OutputExists unless `path` is free or `force` allows replacing it."""
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExists(path)


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool = False) -> Iterator[TextIO]:
    """A text file that becomes `path` when the block ends normally, and vanishes if it does not."""
    refuse_existing(path, force=force)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:  # no such folder, no permission...
        raise OutputRefused(f"cannot create {path}: {error.strerror}") from error
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _publish(Path(temporary), path, force=force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _publish(temporary: Path, path: Path, *, force: bool) -> None:
    if force:
        os.replace(temporary, path)
        return
    # A hard link claims the name only if it is still free (another process may have taken it
    # since the first check); the temporary name is removed by the caller.
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise OutputExists(path) from None
    except OSError:  # a file system without hard links: check again, then rename
        refuse_existing(path, force=False)
        os.replace(temporary, path)
