"""`--help` everywhere: every command and subcommand describes itself and every parameter it takes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import click
import pytest

from billing_grpc import __version__, cli
from billing_grpc.cli.app import root
from billing_grpc.cli.options import DURATION


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under `command` (itself first), with the words that reach it."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


COMMANDS = dict(walk(root))
# Commands that work on the store or the server process, not through a server: no --json.
LOCAL = {("serve",), ("replay",), ("export-events",), ("import-events",), ("demo",)}


def test_the_walk_reaches_every_command() -> None:
    commands = {" ".join(path) for path in COMMANDS}
    assert commands >= {
        "",
        "serve",
        "replay",
        "export-events",
        "import-events",
        "demo",
        "keys create",
        "keys revoke",
        "keys list",
        *(
            f"{group} {action}"
            for group in ("orgs", "plans", "meters", "features")
            for action in ("list", "get", "create")
        ),
        *(f"subscriptions {a}" for a in ("list", "get", "start", "change", "cancel", "pause", "resume")),
        *(f"invoices {a}" for a in ("list", "get", "void", "pay")),
        "payments list",
        "clock show",
        "clock advance",
        "clock run",
        "events list",
    }


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(("billing-grpc", *path)))
def test_help_exits_0_and_explains_every_parameter(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    command = COMMANDS[path]

    assert cli.main([*path, "--help"]) == 0

    shown = capsys.readouterr().out
    assert shown.startswith(f"Usage: {' '.join(('billing-grpc', *path))}")
    assert command.help, "no description"
    for param in command.params:
        assert getattr(param, "help", None), f"{param.name} has no help"
        assert (param.opts[0] if isinstance(param, click.Option) else param.human_readable_name) in shown
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            assert sub.get_short_help_str(), f"{name} has no short help"
            assert name in shown


@pytest.mark.parametrize(
    "path", [p for p, c in COMMANDS.items() if not isinstance(c, click.Group) and p not in LOCAL], ids=" ".join
)
def test_every_client_command_takes_json_target_and_key(path: tuple[str, ...]) -> None:
    names = {option for param in COMMANDS[path].params for option in param.opts}
    assert {"--json", "--target", "--api-key"} <= names


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"billing-grpc {__version__}\n"


def test_shell_completion_completes_commands_and_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_BILLING_GRPC_COMPLETE", "bash_source")
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 0
    assert "_BILLING_GRPC_COMPLETE=bash_complete" in capsys.readouterr().out

    monkeypatch.setenv("_BILLING_GRPC_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "billing-grpc subscriptions ch")
    monkeypatch.setenv("COMP_CWORD", "2")
    with pytest.raises(SystemExit):
        cli.main([])
    assert capsys.readouterr().out.split() == ["plain,change"]


def test_durations_read_like_people_write_them() -> None:
    assert [DURATION.convert(text, None, None) for text in ("90", "90s", "15m", "12h", "30d", "2w")] == [
        timedelta(seconds=90),
        timedelta(seconds=90),
        timedelta(minutes=15),
        timedelta(hours=12),
        timedelta(days=30),
        timedelta(weeks=2),
    ]
