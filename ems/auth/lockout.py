"""Per-account lockout after failed logins, with a delay that grows.

The login limit (``ems.ratelimit``, per address and username a minute) slows one
guesser; this one protects the account whatever the address: after
``LOGIN_LOCKOUT_AFTER`` failures in a row each further attempt must wait
``LOGIN_LOCKOUT_BASE_S`` seconds, doubled with every failure, at most
``LOGIN_LOCKOUT_MAX_S``. A locked attempt is refused before the password is checked,
so the right password does not pass either; a successful login clears the count.
The delay is capped so that a stranger cannot keep a crew member out for long.

With ``REDIS_URL`` set the counts live in Redis (every gunicorn worker and server
shares them), otherwise in this process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app

# Counts of an account left alone this long are forgotten.
FORGET_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class Policy:
    after: int = 5
    base_s: int = 30
    max_s: int = 900

    def delay_s(self, failures: int) -> int:
        """How long an account with ``failures`` failures in a row waits (0: not at all)."""
        if self.after <= 0 or failures < self.after:
            return 0
        return int(min(self.max_s, self.base_s * 2 ** min(failures - self.after, 30)))


class Store(Protocol):
    def locked_for(self, username: str, *, now: float | None = None) -> float: ...
    def fail(self, username: str, *, now: float | None = None) -> tuple[int, int]: ...
    def reset(self, username: str) -> None: ...


class MemoryStore:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        # username -> (failures in a row, locked until, last failure)
        self._state: dict[str, tuple[int, float, float]] = {}

    def locked_for(self, username: str, *, now: float | None = None) -> float:
        now = time.time() if now is None else now
        _, until, _ = self._state.get(username, (0, 0.0, 0.0))
        return max(0.0, until - now)

    def fail(self, username: str, *, now: float | None = None) -> tuple[int, int]:
        """Count a failure; the failures in a row and the delay it starts."""
        now = time.time() if now is None else now
        with self._lock:
            failures, _, last = self._state.get(username, (0, 0.0, 0.0))
            if now - last > FORGET_AFTER_S:
                failures = 0
            failures += 1
            delay = self.policy.delay_s(failures)
            self._state[username] = (failures, now + delay, now)
            if len(self._state) > 100_000:
                self._state = {k: v for k, v in self._state.items() if now - v[2] <= FORGET_AFTER_S}
        return failures, delay

    def reset(self, username: str) -> None:
        with self._lock:
            self._state.pop(username, None)


class RedisStore:
    def __init__(self, url: str, policy: Policy) -> None:
        import redis

        self.policy = policy
        self._redis = redis.Redis.from_url(url)

    @staticmethod
    def _key(username: str) -> str:
        return f"ems:lockout:{username}"

    def locked_for(self, username: str, *, now: float | None = None) -> float:
        now = time.time() if now is None else now
        until = self._redis.hget(self._key(username), "until")
        return max(0.0, float(until) - now) if until is not None else 0.0

    def fail(self, username: str, *, now: float | None = None) -> tuple[int, int]:
        now = time.time() if now is None else now
        key = self._key(username)
        # The count is atomic across workers; the lock time follows from it.
        failures = int(self._redis.hincrby(key, "failures", 1))
        delay = self.policy.delay_s(failures)
        pipe = self._redis.pipeline()
        pipe.hset(key, "until", str(now + delay))
        pipe.expire(key, FORGET_AFTER_S)
        pipe.execute()
        return failures, delay

    def reset(self, username: str) -> None:
        self._redis.delete(self._key(username))


def init_app(app: Flask) -> None:
    policy = Policy(
        after=int(app.config.get("LOGIN_LOCKOUT_AFTER", 5)),
        base_s=int(app.config.get("LOGIN_LOCKOUT_BASE_S", 30)),
        max_s=int(app.config.get("LOGIN_LOCKOUT_MAX_S", 900)),
    )
    url = app.config.get("REDIS_URL")
    app.extensions["ems_login_lockout"] = RedisStore(url, policy) if url else MemoryStore(policy)


def store() -> Store:
    found: Store = current_app.extensions["ems_login_lockout"]
    return found
