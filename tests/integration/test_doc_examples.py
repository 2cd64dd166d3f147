"""Every shell block of README.md and docs/**/*.md, run as written against a real `billing-grpc serve`.

The rules (languages, the `<!-- doc: … -->` directives, the address and key substitutions, the
`# ->` promises) are in tests/docs_blocks.py. The blocks run in reading order in one bash
session, as a reader pastes them into one terminal: later blocks use the variables earlier ones
set. The session runs in a scratch folder whose entries link to the repository's, so relative
paths (`node_modules/.bin`, `interop/…`) work and files the examples write stay out of the
checkout; `billing-grpc` is the virtualenv's, and `MONGO_URI` points at the server's embedded
store (the URI it logged), as the auditor pages say to do while `serve` runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.docs_blocks import (
    ROOT,
    Block,
    all_blocks,
    broken_promises,
    promise_pattern,
    server_environment,
    session_script,
    split_output,
)
from tests.integration.test_serve_process import serve

pytestmark = pytest.mark.slow

SESSION_SECONDS = 180  # the whole session takes ~15 s on 2 cores


def scratch_checkout(folder: Path) -> Path:
    """A folder whose entries are links to the repository's (not `.data`), for files to land in."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".data", ".git"}:
            (folder / entry.name).symlink_to(entry)
    return folder


async def run_session(
    blocks: list[Block], address: str, key: str, cwd: Path, scratch: Path, env: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Run `blocks` in one bash session; fail naming the block that failed. Its output per block, and stderr.

    A block that never ends (an unmarked server start, a stream without `background`) fails the
    session after SESSION_SECONDS, naming it, instead of hanging the suite.
    """
    session = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        session_script(blocks, address, key, scratch),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    communicating = asyncio.ensure_future(session.communicate())
    done, _ = await asyncio.wait({communicating}, timeout=SESSION_SECONDS)
    if not done:
        os.killpg(session.pid, signal.SIGKILL)
    out, err = await communicating
    printed = split_output(out.decode())
    ran = list(printed)
    assert done, f"doc block {ran[-1] if ran else '?'} did not end within {SESSION_SECONDS} s (mark it?)"
    assert session.returncode == 0, (
        f"doc block {ran[-1] if ran else '?'} failed (exit {session.returncode}):\n"
        f"{err.decode()}\n--- its output:\n{printed.get(ran[-1], '') if ran else out.decode()}"
    )
    assert ran == [block.name for block in blocks]
    return printed, err.decode()


def test_promises_match_pretty_printed_json_with_anything_for_ellipses() -> None:
    printed = '{\n  "organization": {\n    "organizationId": "org_7f",\n    "name": "Acme"\n  }\n}\n'

    assert promise_pattern('{"organization": {"organizationId": "org_…", "name": "Acme"}}').search(printed)
    assert not promise_pattern('{"organization": {"name": "Acme", "organizationId": "org_…"}}').search(printed)
    assert not promise_pattern('{"organization": {"name": "Acne"…}}').search(printed)


@pytest.mark.timeout(420)
async def test_every_shell_block_runs_as_written_and_prints_what_it_says(tmp_path: Path) -> None:
    blocks = all_blocks()
    (server_block,) = [block for block in blocks if block.directive == "server"]
    runnable = [block for block in blocks if block.runs_in_session]
    environment = {
        name: value
        for name, value in server_environment(server_block).items()
        if name not in {"BILLING_DATA_DIR", "BILLING_LISTEN"}
    }
    buf = ROOT / "node_modules" / ".bin" / "buf"
    assert buf.exists(), f"{buf} is missing: run `make test` (or `npm install`) to install buf"

    async with serve(tmp_path / "data", extra_env=environment) as server:
        key = await server.admin_key()
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "MONGO_URI": server.store_uri(),
        }
        printed, _ = await run_session(
            runnable, server.address, key, scratch_checkout(tmp_path / "checkout"), tmp_path / "scratch", env
        )

    broken = broken_promises(runnable, printed)
    assert not broken, "\n\n".join(broken)
