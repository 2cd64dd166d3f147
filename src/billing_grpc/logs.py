"""Structured logging: one JSON object or one logfmt-style text line per record, both with every field.

The two formats carry the same fields: time, level, logger, message, the request's correlation id
and everything passed through `extra=`. Only the rendering differs, so switching to `text` for a
terminal loses nothing a JSON reader would have seen.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# A text value needs quotes when it could not be read back as one token.
_BARE = re.compile(r"[^\s\"=\\]+")


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The record's own fields beyond time, level, logger and message: correlation id and extras."""
    fields: dict[str, object] = {}
    if cid := correlation_id.get():
        fields["correlation_id"] = cid
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    return fields


class JsonFormatter(logging.Formatter):
    """Render a record as a JSON object with time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Render a record as `time LEVEL logger message key=value …`, for people at a terminal.

    Values are logfmt-quoted (JSON string escapes) when they hold spaces, quotes or `=`, so a line
    still splits into its fields; a traceback follows on the next lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (plus the traceback, if any)."""
        head = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}"
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in record_fields(record).items())
        line = f"{head} {pairs}" if pairs else head
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _text_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _BARE.fullmatch(text) else json.dumps(text)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send logs to stderr in the chosen format; replaces earlier configuration."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
