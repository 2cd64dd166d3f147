"""The README is a front page, every doc page is reachable, and every block says how it is tested.

The blocks themselves run in tests/integration/test_doc_examples.py (and the README's tour again
from a fresh clone in tests/integration/test_fresh_clone.py); the rules are in tests/docs_blocks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs_blocks import DIRECTIVES, DOC_PAGES, ROOT, Block, all_blocks, blocks_of, documents

README_LIMIT = 400
NO_RUN_LIMIT = 8
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    fenced = {line for block in blocks_of(path) for line in block.code.split("\n")}
    return {
        slug(line.lstrip("#")) for line in path.read_text().split("\n") if line.startswith("#") and line not in fenced
    }


def test_the_readme_is_a_front_page_that_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().split("\n")
    first = blocks_of(ROOT / "README.md")[0]

    assert len(lines) <= README_LIMIT, f"README.md has {len(lines)} lines; the front page keeps to {README_LIMIT}"
    assert lines[0] == "# billing-grpc"
    assert first.line <= 3 and first.code.split("\n")[0].startswith("make run")
    assert first.code.split("\n")[1].startswith("make test")


def test_every_fence_names_its_language_and_every_directive_is_known_and_explained() -> None:
    problems = []
    for block in all_blocks():
        if not block.language:
            problems.append(f"{block.name}: a fence without a language (`text` for output, `sh` for shell)")
        if block.directive is not None and block.directive not in DIRECTIVES:
            problems.append(f"{block.name}: unknown directive {block.directive!r}")
        if block.directive is not None and not block.is_shell:
            problems.append(f"{block.name}: a directive on a {block.language!r} block (only shell blocks run)")
        if block.directive == "no-run" and not block.why:
            problems.append(f"{block.name}: `<!-- doc: no-run: WHY -->` needs its why")
    assert not problems, "\n".join(problems)


def test_one_server_block_in_the_readme_comes_before_every_block_that_runs() -> None:
    shell = [block for block in all_blocks() if block.is_shell and block.directive != "no-run"]
    servers = [block for block in shell if block.directive == "server"]

    assert len(servers) == 1 and servers[0].path == "README.md", servers
    assert shell[0] == servers[0]


def test_no_run_blocks_are_few() -> None:
    no_run: list[Block] = [block for block in all_blocks() if block.directive == "no-run"]

    assert len(no_run) <= NO_RUN_LIMIT, "\n".join(f"{block.name}: {block.why}" for block in no_run)


def test_every_page_under_docs_is_in_the_session_order_and_reachable_from_the_readme() -> None:
    pages = {str(path.relative_to(ROOT)) for path in (ROOT / "docs").rglob("*.md")}
    readme = (ROOT / "README.md").read_text()
    rules = (ROOT / "docs" / "billing-rules" / "README.md").read_text()

    assert pages == set(DOC_PAGES), f"add to or remove from tests/docs_blocks.py DOC_PAGES: {pages ^ set(DOC_PAGES)}"
    for page in DOC_PAGES:
        if page.startswith("docs/billing-rules/") and page != "docs/billing-rules/README.md":
            assert f"]({page.removeprefix('docs/billing-rules/')})" in rules, page
        else:
            assert f"]({page})" in readme or f"]({page}#" in readme, f"the README does not link {page}"


def test_every_local_link_and_anchor_resolves() -> None:
    broken = []
    for document in documents():
        for match in LINK.finditer(document.read_text()):
            target = match["target"]
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            if not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
