"""Fixed-window rate limits for logins and PIN attempts.

With ``REDIS_URL`` set the counters live in Redis, so that every gunicorn worker
and server shares them; otherwise they are kept in this process.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from ems.errors import RateLimited


class MemoryCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, window_s: int) -> int:
        now_window = int(time.time()) // window_s
        with self._lock:
            window, count = self._counts.get(key, (now_window, 0))
            if window != now_window:
                window, count = now_window, 0
            self._counts[key] = (window, count + 1)
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == now_window}
            return count + 1


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, key: str, window_s: int) -> int:
        bucket = f"ems:rl:{key}:{int(time.time()) // window_s}"
        pipe = self._redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, window_s * 2)
        count, _ = pipe.execute()
        return int(count)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["ems_ratelimit"] = RedisCounter(url) if url else MemoryCounter()


def limit(scope: str, key: str, *, per_minute_key: str | None = None, per_minute: int = 0) -> None:
    allowed = int(current_app.config[per_minute_key]) if per_minute_key else per_minute
    counter: MemoryCounter | RedisCounter = current_app.extensions["ems_ratelimit"]
    if counter.hit(f"{scope}:{key}", 60) > allowed:
        raise RateLimited(
            f"too many {scope} attempts; wait a minute",
            code=f"{scope}_rate_limited",
            extra={"retry_after_s": 60},
        )
