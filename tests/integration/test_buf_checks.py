"""`buf lint` and `buf breaking` as `make test` runs them, on scratch git copies of protos/.

They prove the checks bite: a renumbered field fails `tools/buf_breaking.py`, an undocumented
field fails `buf lint`, and a clone with nothing to compare with passes and says why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
BREAKING = ROOT / "tools" / "buf_breaking.py"
USAGE_PROTO = Path("protos/billing/v1/usage.proto")
GIT_IDENTITY = ("-c", "user.name=buf checks", "-c", "user.email=buf-checks@example.invalid")


@pytest.fixture(scope="module")
def buf() -> Path:
    """The buf binary `make test` installs; missing is a failure with the fix, not a skip."""
    assert BUF.exists(), f"{BUF} is missing: run `make test` (or `npm install`) to install the node tooling"
    return BUF


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding this project's protos and buf.yaml in one commit."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "protos", repo / "protos")
    shutil.copy(ROOT / "buf.yaml", repo / "buf.yaml")
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "protos as they are")
    return repo


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / USAGE_PROTO
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {USAGE_PROTO}"
    path.write_text(text.replace(old, new))


def breaking(repo: Path, buf: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(BREAKING), "--root", str(repo), "--buf", str(buf)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_renumbering_a_field_fails_buf_breaking_against_the_previous_commit(repo: Path, buf: Path) -> None:
    edit(repo, "string idempotency_key = 6;", "string idempotency_key = 9;")
    commit_all(repo, "renumber a field")

    result = breaking(repo, buf)

    assert result.returncode != 0, result.stdout + result.stderr
    assert 'field "6" with name "idempotency_key" on message "UsageEvent" was deleted' in result.stdout, result.stdout


def test_an_uncommitted_renumbering_fails_too(repo: Path, buf: Path) -> None:
    edit(repo, "int32 rejected = 5;", "int32 rejected = 6;")  # StreamUsageResponse.rejected
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "a second commit, so HEAD~1 exists")

    result = breaking(repo, buf)

    assert result.returncode != 0
    assert 'field "5" with name "rejected" on message "StreamUsageResponse" was deleted' in result.stdout, result.stdout


def test_a_documentation_change_is_not_breaking(repo: Path, buf: Path) -> None:
    edit(repo, "// UsageEvent is one metered occurrence.", "// UsageEvent is one metered occurrence (reworded).")
    commit_all(repo, "reword a comment")

    result = breaking(repo, buf)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no breaking change against HEAD~1" in result.stdout


def test_the_first_commit_has_nothing_to_compare_with_and_says_so(repo: Path, buf: Path) -> None:
    result = breaking(repo, buf)

    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout and "HEAD~1 does not exist" in result.stdout


def test_a_clone_without_history_passes_and_says_why(repo: Path, buf: Path, tmp_path: Path) -> None:
    edit(repo, "string idempotency_key = 6;", "string idempotency_key = 9;")
    commit_all(repo, "a break the shallow clone cannot see")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", repo.as_uri(), str(shallow)], check=True)

    result = breaking(shallow, buf)

    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout and "shallow clone" in result.stdout


def test_an_undocumented_field_fails_buf_lint(repo: Path, buf: Path) -> None:
    edit(repo, "  // The client's number for this batch, echoed in its ack (for matching and resending).\n", "")

    result = subprocess.run([str(buf), "lint"], cwd=repo, capture_output=True, text=True, check=False)

    assert result.returncode != 0
    assert 'Field "batch_id" should have a non-empty comment' in result.stdout, result.stdout


def test_the_project_protos_pass_buf_lint(buf: Path) -> None:
    result = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
