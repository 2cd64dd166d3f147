"""The README's shell examples, run as written against a real `billing-grpc serve` on a test clock.

Every ```sh block preceded by `<!-- test: NAME -->` runs, in README order, in one bash session
(as a reader pastes them into one terminal: later blocks use the variables earlier ones set),
with `set -euo pipefail`, KEY exported as the first start's admin key and the README's address
replaced by the server's free port. Each block must succeed and print what its `# -> …`
comments say, in order; `…` stands for anything and an indented `# ->   …` line continues the
comment before it.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.test_serve_process import serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_ADDRESS = "127.0.0.1:50051"
README_CLOCK = "2026-01-15T09:00:00Z"  # the Quickstart's BILLING_TEST_CLOCK
BLOCK = re.compile(r"^<!-- test: (?P<name>[\w-]+) -->\n```sh\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
PROMISE = re.compile(r"^# -> (?P<text>.+)$", re.MULTILINE)
MARKER = "@@@ README block "


@dataclass(frozen=True)
class Example:
    """One tested README block: its name, its shell code and what its comments say it prints."""

    name: str
    code: str
    promises: tuple[str, ...]


def promises(code: str) -> tuple[str, ...]:
    """A block's `# -> …` comments; an indented `# ->   …` line continues the one before."""
    found: list[str] = []
    for line in PROMISE.finditer(code):
        text = line["text"]
        if text.startswith(" ") and found:
            found[-1] += text
        else:
            found.append(text)
    return tuple(found)


def readme_examples() -> list[Example]:
    """The README's tested blocks, in order."""
    return [Example(m["name"], m["code"], promises(m["code"])) for m in BLOCK.finditer(README.read_text())]


def promise_pattern(promise: str) -> re.Pattern[str]:
    """A promise as a regex: `…` matches anything; around JSON punctuation any whitespace (buf pretty-prints)."""
    tokens = (re.sub(r"([{}\[\],:])", r" \1 ", piece).split() for piece in promise.split("…"))
    pieces = ("\\s*".join(re.escape(token) for token in piece) for piece in tokens)
    return re.compile(".*?".join(pieces), re.DOTALL)


def split_output(output: str) -> dict[str, str]:
    """The session's stdout cut at the markers echoed before each block."""
    parts: dict[str, str] = {}
    for chunk in output.split(MARKER)[1:]:
        name, _, text = chunk.partition("\n")
        parts[name] = text
    return parts


def test_the_readme_marks_its_examples_and_each_says_what_it_prints() -> None:
    examples = readme_examples()

    names = [example.name for example in examples]
    assert names[0] == "quickstart" and len(names) == len(set(names)) >= 6, names
    for example in examples:
        assert example.promises, f"README block {example.name!r} does not say what it prints (# -> …)"
        assert "buf curl" in example.code


def test_promises_match_pretty_printed_json_with_anything_for_ellipses() -> None:
    printed = '{\n  "organization": {\n    "organizationId": "org_7f",\n    "name": "Acme"\n  }\n}\n'

    assert promise_pattern('{"organization": {"organizationId": "org_…", "name": "Acme"}}').search(printed)
    assert not promise_pattern('{"organization": {"name": "Acme", "organizationId": "org_…"}}').search(printed)
    assert not promise_pattern('{"organization": {"name": "Acne"…}}').search(printed)


async def test_the_readme_examples_run_as_written_and_print_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = readme_examples()
    monkeypatch.setenv("BILLING_TEST_CLOCK", README_CLOCK)
    buf = ROOT / "node_modules" / ".bin" / "buf"
    assert buf.exists(), f"{buf} is missing: run `make test` (or `npm install`) to install buf"

    async with serve(tmp_path / "data") as server:
        key = await server.admin_key()
        script = "set -euo pipefail\n" + "".join(
            f"echo '{MARKER}{example.name}'\n{example.code.replace(README_ADDRESS, server.address)}\n"
            for example in examples
        )
        session = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KEY": key},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await session.communicate()

    printed = split_output(out.decode())
    ran = list(printed)
    assert session.returncode == 0, (
        f"README block {ran[-1] if ran else '?'!r} failed (exit {session.returncode}):\n"
        f"{err.decode()}\n--- its output:\n{printed.get(ran[-1], '') if ran else out.decode()}"
    )
    assert ran == [example.name for example in examples]
    broken = []
    for example in examples:
        position = 0
        for promise in example.promises:
            match = promise_pattern(promise).search(printed[example.name], position)
            if match is None:
                broken.append(f"README block {example.name!r} did not print {promise!r}:\n{printed[example.name]}")
                break
            position = match.end()
    assert not broken, "\n\n".join(broken)
