"""One JSON object per log line, so that log shippers need no parsing rules."""

import logging
from datetime import UTC, datetime

import orjson

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        # orjson: every request writes a line, and the standard json module was a tenth of
        # a record read (docs/performance.md).
        return orjson.dumps(entry, default=str).decode()
