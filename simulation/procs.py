"""Starting and stopping the system's processes (server, relay, agents) as children
that never outlive their parent.

Each child runs in its own process group, so that stopping it reaches the workers
it forked too (gunicorn's). ``stop`` sends SIGTERM to the group, waits, and only
then SIGKILLs; ``Supervisor.stop_all`` does that for every child at once, within
one deadline. A child also gets SIGTERM from the kernel if its parent dies without
stopping it (Linux ``PR_SET_PDEATHSIG`` through setpriv), so that a killed supervisor leaves no
server behind holding its port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def _dying_with_parent(argv: Sequence[str]) -> list[str]:
    """``argv`` run so that the kernel sends it SIGTERM when this process dies.

    setpriv(1) sets the death signal and then execs: nothing runs between fork and exec
    in our process (a ``preexec_fn`` can deadlock a process that has threads). The death
    signal follows the thread that started the child, so only children started from the
    main thread get it: one started from a worker thread would die with that thread."""
    setpriv = shutil.which("setpriv")
    if sys.platform != "linux" or setpriv is None:
        return list(argv)
    if threading.current_thread() is not threading.main_thread():
        return list(argv)
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM the child's group, then SIGKILL what is left; returns the exit code."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        # Workers of a group leader that died may linger: make sure the group is gone.
        self.signal(signal.SIGKILL)
        return self.proc.returncode if self.proc.returncode is not None else -9

    def tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Supervisor:
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    quiet: bool = True

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        quiet: bool | None = None,
    ) -> Child:
        """Start a child; a quiet one writes to ``<log_dir>/<name>.log``, a loud one
        to this process's terminal."""
        quiet = self.quiet if quiet is None else quiet
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        out: IO[bytes] | None = log_path.open("ab") if quiet else None
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.Popen(
            _dying_with_parent(argv),
            stdout=out,
            stderr=subprocess.STDOUT if quiet else None,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,
        )
        if out is not None:
            out.close()
        child = Child(name, proc, log_path if quiet else None)
        self.children.append(child)
        return child

    def stop_all(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every child's group at once (the last started first), give them
        ``timeout_s`` together, then SIGKILL what is left."""
        children = list(reversed(self.children))
        for child in children:
            if child.alive():
                child.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(max(0.0, deadline - time.monotonic()))
        for child in children:
            # What is left (a stubborn leader, workers of a leader that died): killed.
            child.signal(signal.SIGKILL)
        for child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(5)

    def replace(self, old: Child, new: Child) -> None:
        self.children = [new if c is old else c for c in self.children]


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def wait_for_port(
    host: str, port: int, *, timeout_s: float = 30.0, child: Child | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


def wait_for_http(url: str, *, timeout_s: float = 30.0, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout_s} s ({last})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def runqueue_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a core (Linux
    schedstat): how much of its latency is queueing for the CPU."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
