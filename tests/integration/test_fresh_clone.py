"""From a clean clone with no `.venv`: `make run` listens and answers health, then the README's tour runs.

The clone is of the checkout's HEAD (commit to test a change). The README's server block runs as
written (`… make run`) with a free port in `BILLING_LISTEN`, a PATH without this checkout's
virtualenv and no `VIRTUAL_ENV`, so `make` creates a new `.venv` in the clone and installs into
it (from whatever pip is configured with: here a local wheel cache and mirror). `buf` comes from
this checkout's `node_modules` (the tour says `make test` or `npm install` provides it; the
clone installs no node tooling, to keep the check short).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from billing_grpc.embedded import free_port
from tests.docs_blocks import ROOT, broken_promises
from tests.docs_blocks import blocks_of as doc_blocks
from tests.integration.test_doc_examples import run_session
from tests.integration.test_serve_process import _collect_output, _wait_serving

pytestmark = pytest.mark.slow

VENV_BIN = str(ROOT / ".venv" / "bin")


def clean_environment(address: str) -> dict[str, str]:
    """This process's environment without its virtualenv, listening on `address`."""
    env = {name: value for name, value in os.environ.items() if name not in {"VIRTUAL_ENV", "MONGO_URI"}}
    env = {name: value for name, value in env.items() if not name.startswith("BILLING_")}
    path = [entry for entry in env["PATH"].split(os.pathsep) if Path(entry).resolve() != Path(VENV_BIN).resolve()]
    env["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), *path])
    env["BILLING_LISTEN"] = address
    return env


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of this checkout's HEAD, with no `.venv`."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "--detach", head.stdout.strip()], check=True)
    assert not (clone / ".venv").exists()
    return clone


async def printed_key(output: list[str]) -> list[str]:
    """The key printed at first start (it follows the SERVING state by a moment)."""
    for _ in range(100):
        if keys := [line.strip() for line in output if line.strip().startswith("bgk_")]:
            return keys
        await asyncio.sleep(0.1)
    raise AssertionError(f"no admin key printed at first start:\n{''.join(output)}")


@pytest.mark.timeout(300)
async def test_a_fresh_clone_serves_with_make_run_and_the_readme_tour_runs_against_it(
    tmp_path: Path, clone: Path
) -> None:
    readme = doc_blocks(clone / "README.md", clone)
    (server_block,) = [block for block in readme if block.directive == "server"]
    tour = [block for block in readme if block.runs_in_session]
    address = f"127.0.0.1:{free_port()}"
    env = clean_environment(address)
    server = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        server_block.code,
        cwd=clone,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert server.stdout is not None
    output: list[str] = []
    collector = asyncio.ensure_future(_collect_output(server.stdout, output))
    try:
        try:
            await _wait_serving(address, timeout=240)
        except AssertionError:
            raise AssertionError("`make run` never answered health SERVING:\n" + "".join(output)) from None
        assert (clone / ".venv" / "bin" / "billing-grpc").exists(), "`make run` did not install into the clone's .venv"
        assert any(f"listening on {address}" in line for line in output), output
        keys = await printed_key(output)

        printed, _ = await run_session(tour, address, keys[0], clone, tmp_path / "scratch", env)
        broken = broken_promises(tour, printed)
        assert not broken, "\n\n".join(broken)
    finally:
        if server.returncode is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), timeout=30)
            except TimeoutError:
                os.killpg(server.pid, signal.SIGKILL)
                await server.wait()
        await collector
