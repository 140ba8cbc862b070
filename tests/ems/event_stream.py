"""Reading ``GET /api/v1/events`` in tests as a page or the tablet reads it: the
bearer token in the header, the body read on a thread of its own as it arrives."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

from flask import Flask

URL = "/api/v1/events"


class Stream:
    """One page's stream, read on a thread of its own as a browser would read it."""

    def __init__(self, app: Flask, token: str) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._opened = threading.Event()
        self._stop = threading.Event()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.problem: dict[str, Any] = {}
        self.text = ""
        self.ended = False
        self._thread = threading.Thread(target=self._run, args=(app, token), daemon=True)
        self._thread.start()
        assert self._opened.wait(10)

    def _run(self, app: Flask, token: str) -> None:
        resp = app.test_client().get(URL, headers={"Authorization": f"Bearer {token}"})
        self.status, self.headers = resp.status_code, dict(resp.headers)
        if resp.status_code != 200:
            self.problem = resp.get_json()
            self._opened.set()
            return
        self._opened.set()
        try:
            for chunk in resp.response:
                self._chunks.put(chunk)
                if self._stop.is_set():
                    break
        finally:
            resp.close()
            self._chunks.put(None)

    def read_until(self, wanted: str, timeout_s: float = 5.0) -> str:
        deadline = time.monotonic() + timeout_s
        while wanted not in self.text and not self.ended:
            try:
                chunk = self._chunks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if chunk is None:
                self.ended = True
            else:
                self.text += chunk.decode()
        return self.text

    def wait_end(self, timeout_s: float = 5.0) -> bool:
        self.read_until("\0never\0", timeout_s)
        return self.ended

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """The server-sent events read so far, as (type, data); comments left out."""
        out: list[tuple[str, dict[str, Any]]] = []
        for block in self.text.split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in block.split("\n") if ": " in line and line[0] != ":"
            )
            if "event" in fields:
                out.append((fields["event"], json.loads(fields.get("data", "null"))))
        return out
