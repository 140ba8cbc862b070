"""The demo's start finds what an earlier demo left running (its pid file) and stops
it, and names a busy port instead of dying with "address already in use"."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from simulation.__main__ import main
from simulation.demo import PID_FILE, busy_ports, stop_leftover
from simulation.procs import Supervisor, group_alive


def _leftover(var_dir: Path) -> subprocess.Popen[bytes]:
    """A process as the demo starts its children: own session, the demo's environment."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, "EMS_DATABASE_URL": f"sqlite:///{var_dir / 'ems.sqlite3'}"},
        start_new_session=True,
    )


def test_a_leftover_named_in_the_pid_file_is_stopped(tmp_path: Path) -> None:
    var_dir = tmp_path / "demo"
    var_dir.mkdir()
    server = _leftover(var_dir)
    # Reaped as init reaps an orphan, so that it does not linger as a zombie.
    reaper = threading.Thread(target=server.wait, daemon=True)
    reaper.start()
    (var_dir / PID_FILE).write_text(
        json.dumps({"demo": 0, "children": {"server": server.pid}, "ports": {}})
    )
    stopped = stop_leftover(var_dir, timeout_s=5)
    assert stopped == [server.pid]
    reaper.join(5)
    assert server.returncode is not None
    assert not (var_dir / PID_FILE).exists()


def test_a_stranger_with_a_recorded_pid_is_left_alone(tmp_path: Path) -> None:
    var_dir = tmp_path / "demo"
    var_dir.mkdir()
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        (var_dir / PID_FILE).write_text(
            json.dumps({"demo": stranger.pid, "children": {"server": stranger.pid}})
        )
        assert stop_leftover(var_dir, timeout_s=1) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert busy_ports("127.0.0.1", {"server": port}) == [
            f"port {port} (server) on 127.0.0.1: in use"
        ]
        result = CliRunner().invoke(
            main, ["demo", "--var-dir", str(tmp_path / "demo"), "--port", str(port)]
        )
    assert result.exit_code != 0
    assert f"port {port} (server)" in result.output
    assert "make demo PORT=" in result.output


def test_stop_all_stops_every_child_within_one_deadline(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path / "logs")
    # Children that ignore SIGTERM: only the shared deadline and SIGKILL end them.
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    children = [sup.start(f"c{n}", [sys.executable, "-c", stubborn]) for n in range(3)]
    time.sleep(0.5)
    t0 = time.monotonic()
    sup.stop_all(timeout_s=1.0)
    assert time.monotonic() - t0 < 4
    assert not any(group_alive(c.pid) for c in children)
