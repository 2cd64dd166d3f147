"""The fenced blocks of README.md and docs/**/*.md, and the shell session that runs them.

Every fence names its language (`text` for output, `sh` for shell, …). A shell block (`sh`,
`bash`, `shell`, `console`) runs, in reading order, in one bash session against a real server,
unless the line just before its fence is a directive:

- `<!-- doc: no-run: WHY -->`: not run; WHY is required, so every skip is visible and deliberate.
- `<!-- doc: server -->`: the command that starts the server the other blocks talk to (one, in the
  README). The doc test starts `billing-grpc serve` with its environment (data in a temporary
  folder, a free port); the fresh-clone check runs it as written.
- `<!-- doc: background -->`: a command that runs until interrupted (`follow: true`): it runs in
  the background until it has printed what its `# ->` comments say, then is stopped, as Ctrl-C
  would.

In the session the documents' address `127.0.0.1:50051` becomes the server's and the placeholder
`bgk_…` the platform admin key printed at first start; nothing else is rewritten. Each block must
succeed (`set -euo pipefail`) and print what its `# -> …` comments say, in order: `…` stands for
anything, an indented `# ->   …` line continues the one before, and around JSON punctuation any
whitespace matches (buf pretty-prints).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The session's order after the README: the README's Documentation table, then the rule pages.
DOC_PAGES = (
    "docs/access.md",
    "docs/catalogue.md",
    "docs/usage.md",
    "docs/billing-cycle.md",
    "docs/plan-changes.md",
    "docs/billing-rules/README.md",
    "docs/billing-rules/stub-proration.md",
    "docs/billing-rules/arrears.md",
    "docs/billing-rules/alignment.md",
    "docs/billing-rules/percentage-charges.md",
    "docs/billing-rules/invoice-amounts.md",
    "docs/billing-rules/currencies.md",
    "docs/entitlements.md",
    "docs/auditors.md",
    "docs/client.md",
    "docs/operations.md",
    "docs/development.md",
    "docs/cli.md",
    "docs/benchmarks.md",
    "docs/architecture.md",
)
DOC_ADDRESS = "127.0.0.1:50051"
KEY_PLACEHOLDER = "bgk_…"
SHELL = frozenset({"sh", "bash", "shell", "console"})
DIRECTIVES = frozenset({"no-run", "server", "background"})
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\s*<!--\s*doc:\s*(?P<kind>[\w-]+)\s*(?::(?P<why>.*?))?\s*-->\s*$")
PROMISE = re.compile(r"^# -> (?P<text>.+)$", re.MULTILINE)
MARKER = "@@@ doc block "


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, the directive before it and its text."""

    path: str  # relative to the repository, e.g. "docs/usage.md"
    line: int  # the line of the opening fence, 1-based
    language: str
    directive: str | None
    why: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL

    @property
    def runs_in_session(self) -> bool:
        return self.is_shell and self.directive in (None, "background")

    @property
    def promises(self) -> tuple[str, ...]:
        """The block's `# -> …` comments; an indented `# ->   …` line continues the one before."""
        found: list[str] = []
        for line in PROMISE.finditer(self.code):
            text = line["text"]
            if text.startswith(" ") and found:
                found[-1] += text
            else:
                found.append(text)
        return tuple(found)


def blocks_of(path: Path, root: Path = ROOT) -> list[Block]:
    """The fenced blocks of one Markdown file, in order (indented fences in lists included)."""
    lines = path.read_text().split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        info = opening["info"].strip()
        directive = DIRECTIVE.match(lines[index - 1]) if index else None
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = FENCE.match(lines[end])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        else:
            raise AssertionError(f"{path.relative_to(root)}:{index + 1}: the fence is never closed")
        found.append(
            Block(
                path=str(path.relative_to(root)),
                line=index + 1,
                language=info.split()[0] if info else "",
                directive=directive["kind"] if directive else None,
                why=(directive["why"] or "").strip() if directive else "",
                code="\n".join(body) + "\n",
            )
        )
        index = end + 1
    return found


def documents(root: Path = ROOT) -> list[Path]:
    """README.md, then every page in DOC_PAGES order."""
    return [root / "README.md", *(root / page for page in DOC_PAGES)]


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [block for path in documents(root) for block in blocks_of(path, root)]


def server_environment(block: Block) -> dict[str, str]:
    """The `VAR=value` assignments in front of the server block's command."""
    environment: dict[str, str] = {}
    for word in shlex.split(block.code, comments=True):
        name, equals, value = word.partition("=")
        if not equals or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            break
        environment[name] = value
    return environment


def promise_pattern(promise: str) -> re.Pattern[str]:
    """A promise as a regex: `…` matches anything; around JSON punctuation any whitespace (buf pretty-prints)."""
    tokens = (re.sub(r"([{}\[\],:])", r" \1 ", piece).split() for piece in promise.split("…"))
    pieces = ("\\s*".join(re.escape(token) for token in piece) for piece in tokens)
    return re.compile(".*?".join(pieces), re.DOTALL)


# Reads a background block's output from stdin, echoes it, and exits 0 once every promise (regexes
# in the JSON file argv[1]) has matched in order; 1 at the end of the output or after 60 s.
WAIT_FOR_PROMISES = r"""
import json, re, signal, sys
signal.alarm(60)
patterns = [re.compile(p, re.DOTALL) for p in json.load(open(sys.argv[1]))]
seen, position = "", 0
for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
    seen += line
    while patterns and (match := patterns[0].search(seen, position)):
        position = match.end()
        patterns.pop(0)
    if not patterns:
        sys.exit(0)
sys.exit(1)
"""


def session_script(blocks: list[Block], address: str, key: str, scratch: Path) -> str:
    """One bash script running `blocks` in order; `scratch` holds its helper files."""
    scratch.mkdir(exist_ok=True)
    wait = scratch / "wait_for_promises.py"
    wait.write_text(WAIT_FOR_PROMISES)
    # set -a: a background block runs in its own bash (its own process group, so stopping it stops
    # everything it started) and needs the session's variables.
    script = ["set -euo pipefail", "set -a"]
    for number, block in enumerate(blocks):
        code = block.code.replace(DOC_ADDRESS, address).replace(KEY_PLACEHOLDER, key)
        script.append(f"echo '{MARKER}{block.name}'")
        if block.directive != "background":
            script.append(code)
            continue
        assert block.promises, f"{block.name}: a background block must say what it prints (# -> …)"
        source, patterns, fifo = (scratch / f"block-{number}{suffix}" for suffix in (".sh", ".json", ".out"))
        source.write_text(code)
        patterns.write_text(json.dumps([promise_pattern(promise).pattern for promise in block.promises]))
        script.append(
            f"mkfifo {shlex.quote(str(fifo))}\n"
            f"setsid bash {shlex.quote(str(source))} > {shlex.quote(str(fifo))} 2>&1 &\n"
            "__streamer=$!\n"
            "__status=0\n"
            f"python3 {shlex.quote(str(wait))} {shlex.quote(str(patterns))} < {shlex.quote(str(fifo))}"
            " || __status=$?\n"
            'kill -TERM -- "-$__streamer" 2>/dev/null || true\n'
            'wait "$__streamer" 2>/dev/null || true\n'
            'test "$__status" = 0'
        )
    return "\n".join(script) + "\n"


def split_output(output: str) -> dict[str, str]:
    """The session's stdout cut at the markers echoed before each block."""
    parts: dict[str, str] = {}
    for chunk in output.split(MARKER)[1:]:
        name, _, text = chunk.partition("\n")
        parts[name] = text
    return parts


def broken_promises(blocks: list[Block], printed: dict[str, str]) -> list[str]:
    """Each block whose output lacks one of its promises (in order), with what it printed."""
    broken = []
    for block in blocks:
        position = 0
        for promise in block.promises:
            match = promise_pattern(promise).search(printed.get(block.name, ""), position)
            if match is None:
                broken.append(f"{block.name} did not print {promise!r}:\n{printed.get(block.name, '')}")
                break
            position = match.end()
    return broken
