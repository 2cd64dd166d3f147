"""Run `buf breaking` on protos/ against the previous commit (HEAD~1 by default).

A wire-incompatible change to the protos (a renumbered or removed field, a changed type, a
removed RPC) must fail `make test` before it reaches a client. The previous commit's protos and
`buf.yaml` are taken with `git archive` into a scratch folder, so this works the same in a plain
clone and in a git worktree (where `.git` is a file, not a folder).

There is nothing to compare with in a clone without history (`git clone --depth 1`), on the
very first commit, or at a commit from before protos/ existed: the check then says why on
stdout and passes, rather than failing every build of such a clone. Set BUF_BREAKING_AGAINST to
another ref (e.g. `origin/main`) to compare with that instead.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUF = ROOT / "node_modules" / ".bin" / "buf"
DEFAULT_AGAINST = "HEAD~1"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)


def _why_no_baseline(root: Path, against: str) -> str | None:
    """Why `against` cannot serve as the baseline, or None when it can."""
    if _git(root, "rev-parse", "--git-dir").returncode != 0:
        return "not a git checkout"
    if _git(root, "rev-parse", "--verify", "--quiet", f"{against}^{{commit}}").returncode == 0:
        for needed in ("protos", "buf.yaml"):
            if _git(root, "cat-file", "-e", f"{against}:{needed}").returncode != 0:
                return f"{against} has no {needed}"
        return None
    shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
    if shallow:
        return f"{against} is not in this shallow clone (fetch more history, e.g. `git fetch --deepen=1`)"
    return f"{against} does not exist (the first commit?)"


def _export(root: Path, ref: str, into: Path) -> None:
    """Write `protos/` and `buf.yaml` as they were at `ref` into the folder `into`."""
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", ref, "protos", "buf.yaml"],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    parser.add_argument("--buf", type=Path, default=DEFAULT_BUF, help="the buf binary")
    parser.add_argument("--against", default=os.environ.get("BUF_BREAKING_AGAINST") or DEFAULT_AGAINST)
    options = parser.parse_args(argv)
    root: Path = options.root.resolve()
    if not options.buf.exists():
        print(f"buf not found at {options.buf}: run `make test` (it installs node_modules)", file=sys.stderr)
        return 2
    reason = _why_no_baseline(root, options.against)
    if reason is not None:
        print(f"buf breaking: skipped, nothing to compare with: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="buf-breaking-") as scratch:
        _export(root, options.against, Path(scratch))
        result = subprocess.run([str(options.buf), "breaking", "--against", scratch], cwd=root, check=False)
    if result.returncode == 0:
        print(f"buf breaking: no breaking change against {options.against}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
