"""One logging rule for every CityLink process: no personal data in any log line.

`configure(process_name)` at a process's entry (bot, action server, simulator,
console, tools) makes every logger mask personal values
(common/privacy.py: ID and phone numbers, plates, account numbers, names) in
each record as it is made: the message with its arguments, the exception and
stack text, and any string fields handlers format (Sanic's and aiohttp's access
lines carry the request line in `extra`). It wraps `Logger.makeRecord` rather
than adding a handler filter, because Rasa, Sanic and rasa_sdk install their own
handlers after us: every record is made there, whichever handler writes it. JSON that
structlog renders (Rasa) has its ``\\uXXXX`` escapes decoded first, so Chinese
values are found, and the line becomes readable.

Files: with a log directory (argument or `CITYLINK_LOG_DIR`) the process also
writes `<dir>/<process_name>.log`, rotated by size (`CITYLINK_LOG_MAX_BYTES`,
default 10 MB, `CITYLINK_LOG_BACKUPS` files kept, default 5), mode 0600 in a
0700 directory. `tools/stack.py` does not use that: it keeps every child's
stdout and stderr (crash tracebacks and `print`s too) through `LogSink`, which
masks and rotates the same way.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Optional, Type, Union

from common.privacy import mask_text

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process_name)s] %(message)s"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# LogRecord attributes that are not the caller's text (everything else that is a
# string, e.g. `extra` fields, is masked).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "process_name"}
_state: dict = {}


def safe(text: str) -> str:
    """A line fit for a log: JSON escapes decoded, personal values masked."""
    if "\\u" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return mask_text(text)


def _mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep both parts, masked
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = safe(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = safe(record.exc_text)
        record.exc_info = None  # formatters print exc_text; the raw exception carries values
    if record.stack_info:
        record.stack_info = safe(record.stack_info)
    for key, value in vars(record).items():
        if key not in _RECORD_FIELDS and isinstance(value, str):
            setattr(record, key, safe(value))
    record.process_name = _state.get("process_name", "")
    return record


def _install() -> None:
    """Mask every record `Logger.makeRecord` builds, after `extra` is applied."""
    original = logging.Logger.makeRecord
    if getattr(original, "citylink_masking", False):
        return

    def make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return _mask_record(original(self, *args, **kwargs))
    make_record.citylink_masking = True  # type: ignore[attr-defined]
    logging.Logger.makeRecord = make_record  # type: ignore[method-assign]


def private_dir(path: Path) -> Path:
    """The directory, created if needed, readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotating by size, every file (the current one and each rotated) mode 0600."""

    def _open(self) -> IO[str]:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)  # a file from before, maybe 0644
        return os.fdopen(fd, self.mode, encoding=self.encoding)


def rotating_handler(path: Path) -> PrivateRotatingFileHandler:
    private_dir(path.parent)
    return PrivateRotatingFileHandler(
        path, maxBytes=int(os.environ.get("CITYLINK_LOG_MAX_BYTES", 10 * 1024 * 1024)),
        backupCount=int(os.environ.get("CITYLINK_LOG_BACKUPS", 5)), encoding="utf-8")


def _log_uncaught(kind: Type[BaseException], value: BaseException,
                  trace: Optional[TracebackType]) -> None:
    """Uncaught exceptions go through logging (masked), not raw to stderr."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, trace)
        return
    logging.getLogger("uncaught").critical("未捕获的异常", exc_info=(kind, value, trace))


def configure(process_name: str, log_dir: Union[str, Path, None] = None,
              level: int = logging.INFO) -> Optional[Path]:
    """Mask personal data in every log record of this process; idempotent.

    Adds a stderr handler if the process has none yet, and with a log
    directory (or CITYLINK_LOG_DIR) a rotating 0600 file `<process_name>.log`,
    whose path is returned.
    """
    _state["process_name"] = process_name
    _install()
    sys.excepthook = _log_uncaught
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    directory = log_dir or os.environ.get("CITYLINK_LOG_DIR")
    if not directory:
        return None
    path = Path(directory) / f"{process_name}.log"
    if _state.get("file") != path:
        file_handler = rotating_handler(path)
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
        _state["file"] = path
    return path


class LogSink:
    """A child process's output, line by line, masked into a rotating 0600 file.

    `tools/stack.py` gives each child a pipe and a sink: whatever the child
    writes (log lines, `print`, a crash traceback before logging was set up)
    reaches var/log/<name>.log only masked.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._logger = logging.Logger(f"citylink.sink.{path.stem}")  # not under root: no propagation
        handler = rotating_handler(path)
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(handler)
        self._thread: Optional[threading.Thread] = None

    def write(self, line: str) -> None:
        self._logger.handle(logging.makeLogRecord({"msg": safe(line.rstrip("\n")),
                                                   "levelno": logging.INFO}))

    def drain(self, stream: IO[bytes]) -> threading.Thread:
        """Copy `stream` (a child's stdout) into the file from a daemon thread until EOF."""
        def copy() -> None:
            for raw in iter(stream.readline, b""):
                self.write(raw.decode("utf-8", errors="replace"))
            stream.close()
        self._thread = threading.Thread(target=copy, name=f"log-{self.path.stem}", daemon=True)
        self._thread.start()
        return self._thread

    def close(self, timeout: float = 5) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        for handler in self._logger.handlers:
            handler.close()
