"""Structured logs: one JSON object a line, carrying the request id and correlation id.

The request id is set by ``RequestMiddleware`` for the request being served (and sent
back as ``x-request-id``); the correlation id, set while a command runs
(``api.deps.command``), is the one stored in the metadata of the events the command
writes (``application.metadata``), so a log line leads to its events and back.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class _LogScope:
    """What every log line of the request being served carries."""

    request_id: str | None = None
    correlation_id: str | None = None


_scope: ContextVar[_LogScope] = ContextVar("log_scope", default=_LogScope())  # noqa: B039 (frozen)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is kept.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def current_request_id() -> str | None:
    return _scope.get().request_id


@contextmanager
def request_scope(request_id: str) -> Iterator[None]:
    token = _scope.set(_LogScope(request_id))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[None]:
    token = _scope.set(replace(_scope.get(), correlation_id=correlation_id))
    try:
        yield
    finally:
        _scope.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        scope = _scope.get()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": scope.request_id,
            "correlation_id": scope.correlation_id,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` sending every logger (uvicorn's included) to one
    JSON handler on the root. uvicorn applies it in each worker process too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stderr}
        },
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
