"""Where a command writes, and how: small tables for people, one JSON object per line for programs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from google.protobuf import json_format
from google.protobuf.message import Message


@dataclass
class Console:
    """The streams of one run (stdout for results, stderr for messages) and the global flags."""

    out: TextIO
    err: TextIO
    debug: bool = False
    # The word a failure's line starts with (`demo failed: …`); `error` for every other command.
    failure_prefix: str = "error"
    json: bool = field(default=False)

    def line(self, text: str = "") -> None:
        """One line of results on stdout, flushed: a stream read by `head` sees it at once."""
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """One line for the person on stderr (a confirmation, a summary)."""
        print(text, file=self.err, flush=True)

    def message(self, message: Message) -> None:
        """A protobuf message as one line of JSON."""
        self.line(as_json(message))

    def messages(self, messages: Iterable[Message]) -> None:
        """Messages, one JSON object per line."""
        for message in messages:
            self.message(message)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Rows under headers, columns padded; `(none)` when there are no rows."""
        self.line(table(headers, list(rows)))

    def record(self, pairs: Sequence[tuple[str, str]]) -> None:
        """One resource as `field  value` lines."""
        width = max((len(name) for name, _ in pairs), default=0)
        for name, value in pairs:
            self.line(f"{name.ljust(width)}  {value}".rstrip())


def as_json(message: Message) -> str:
    """Proto3 JSON on one line, with the .proto's field names (snake_case) and no empty defaults."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None, sort_keys=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: a header line, then one line per row; `(none)` for no rows."""
    if not rows:
        return "(none)"
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def render(row: Sequence[str]) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    return "\n".join([render(headers), *(render(row) for row in rows)])
