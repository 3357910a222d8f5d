"""Log records as hclog JSON lines on stderr, which go-plugin re-logs inside Vault's log.

Two rules from go-plugin's reader: ``@timestamp`` must match Go's layout
``2006-01-02T15:04:05.000000Z07:00`` exactly (or the line is logged verbatim at DEBUG),
and ``@message`` must be a string: anything else panics the Vault server. So every value
is turned into a string here, whatever a caller passed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
from typing import Any

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# Attributes every LogRecord has; anything else came from ``extra=`` and becomes a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def hclog_level(levelno: int) -> str:
    if levelno <= TRACE:
        return "trace"
    for threshold in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= threshold:
            return _LEVELS[threshold]
    return "debug"


def go_timestamp(created: float) -> str:
    stamp = dt.datetime.fromtimestamp(created, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class HclogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        try:
            message = str(record.getMessage())
        except Exception:  # a bad %-format must not lose the line
            message = str(record.msg)
        line: dict[str, Any] = {
            "@level": hclog_level(record.levelno),
            "@message": message,
            "@module": record.name,
            "@timestamp": go_timestamp(record.created),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key[0] != "@":
                line[key] = value if isinstance(value, bool | int | float) else str(value)
        if record.exc_info and record.levelno >= logging.ERROR:
            # Only the exception type and message: a traceback's locals could carry secrets.
            exc = record.exc_info[1]
            line["error"] = f"{type(exc).__name__}: {exc}"
        return json.dumps(line, ensure_ascii=False)


class LineHandler(logging.Handler):
    """Writes each record as one line with one ``os.write`` to a file descriptor.

    ``logging``'s stream handlers hold one lock across formatting and writing, so worker
    threads that log at once wait for each other's formatting. Here each thread formats on its
    own and the lock covers only the write: one system call, so lines never interleave (a pipe
    takes a write of any length whole only up to ``PIPE_BUF``) and nobody waits long."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self._write_lock = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        # logging.Handler.handle would take the handler's lock around emit.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            with self._write_lock:
                view = memoryview(data)
                while view:  # a pipe takes it whole; a file or terminal may take part of it
                    view = view[os.write(self.fd, view) :]
        except Exception:
            self.handleError(record)


def configure(level: int = logging.INFO, fd: int | None = None) -> logging.Handler:
    """Send every log record of the process to stderr (or ``fd``) as hclog JSON."""
    handler = LineHandler(sys.stderr.fileno() if fd is None else fd)
    handler.setFormatter(HclogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries chatty at DEBUG whose detail is never useful in Vault's log.
    for noisy in ("urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return handler
