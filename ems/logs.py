"""Structured JSON logs, one object per line, carrying the request id (the server's)
and, apart, the client's ``X-Request-Id`` once sanitised.

Patient data never goes to the log: log records carry ids and codes only.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from flask import g, has_request_context

_STD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            out["request_id"] = g.get("request_id", "")
            # The client's own id, sanitised (ems.app.client_request_id): never ours.
            if g.get("client_request_id"):
                out["client_request_id"] = g.client_request_id
        for key, value in record.__dict__.items():
            if key not in _STD:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
