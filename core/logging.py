"""Structured (JSON) log lines carrying the request id of the request that wrote them."""

import json
import logging
import time
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload)


_warned_at: dict[str, float] = {}


def warn_now_and_then(logger: logging.Logger, key: str, message: str, *args, every: float = 60.0) -> None:
    """``logger.warning(message, *args)``, at most once every ``every`` seconds per key in a process: a dependency
    that is down would otherwise log once per request."""
    now = time.monotonic()
    if now - _warned_at.get(key, -every) >= every:
        _warned_at[key] = now
        logger.warning(message, *args)
