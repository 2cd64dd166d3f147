"""`--help` everywhere: every command and subcommand describes itself and every argument it takes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from billing_grpc import cli


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under `parser` (itself first), with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


PARSERS = dict(walk(cli.build_parser()))


def test_the_walk_reaches_every_command() -> None:
    commands = {" ".join(path) for path in PARSERS}
    assert commands >= {
        "",
        "serve",
        "replay",
        "export-events",
        "import-events",
        "demo",
        "keys",
        "keys create",
        "keys revoke",
    }


@pytest.mark.parametrize("path", list(PARSERS), ids=lambda path: " ".join(("billing-grpc", *path)))
def test_help_exits_0_and_explains_every_argument(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    parser = PARSERS[path]

    with pytest.raises(SystemExit) as exited:
        cli.main([*path, "--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: {' '.join(('billing-grpc', *path))}")
    assert parser.description, "no description"
    for action in parser._actions:
        assert action.help, f"{action.dest} has no help"
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{choice.dest} has no help"
                assert choice.dest in shown
        else:
            assert (action.option_strings or [action.metavar or action.dest])[0] in shown
