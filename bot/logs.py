"""Structured logging: one key=value (or JSON) line per event, secrets masked."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from pathlib import Path


class _SecretFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event, _, rest = record.getMessage().partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(" ") if "=" in part)
        payload = {"ts": self.formatTime(record), "level": record.levelname, "logger": record.name,
                   "event": event, **fields}
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "kv", secrets: list[str] | None = None,
          stream=None, path: Path | None = None, also: tuple[logging.Handler, ...] = ()) -> None:
    """Configure the root logger once. Message text is logged only at DEBUG (privacy).
    With `path`, lines go to that file (kept to 3 × 5 MB) instead of stderr — the terminal chat,
    where they would land between the messages; `also` are handlers beside it."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    handler.addFilter(_SecretFilter(secrets or []))
    root = logging.getLogger()
    for extra in also:
        extra.addFilter(_SecretFilter(secrets or []))
    root.handlers[:] = [handler, *also]
    root.setLevel(level)
    for noisy in ("httpx", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
