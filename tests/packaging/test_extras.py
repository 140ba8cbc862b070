"""Each part installs alone: a fresh virtual environment with only the tablet's extra
runs the tablet agent, one with only the server's runs the server, one with only the
relay's runs the relay, and none gets the tools of the others. The wheels come from
var/wheels (fetched by `make wheels` at setup), so nothing is downloaded here."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "var" / "wheels"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _fresh_env(tmp_path: Path, extra: str) -> Path:
    if not (WHEELS / ".stamp").exists():
        pytest.fail("var/wheels is missing: run `make wheels` (part of `make setup`)")
    venv = tmp_path / extra
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # A copy of the source: the build must not write into the work tree.
    src = tmp_path / "src"
    if not src.exists():
        ignore = {".venv", "var", "node_modules", ".git", "screenshots", "__pycache__"}
        _copy_tree(ROOT, src, ignore)
    proc = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(WHEELS),
            "-c",
            str(ROOT / "constraints.txt"),
            f"{src}[{extra}]",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_CACHE_DIR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def _copy_tree(src: Path, dst: Path, ignore: set[str]) -> None:
    import shutil

    shutil.copytree(src, dst, ignore=lambda _d, names: [n for n in names if n in ignore])


def _has(venv: Path, module: str) -> bool:
    probe = (
        f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    )
    return subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd="/").returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the process ended before it answered"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return int(resp.status)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout_s} s")


def test_the_tablet_installs_and_runs_alone(tmp_path: Path) -> None:
    venv = _fresh_env(tmp_path, "tablet")
    for absent in ("ortools", "valhalla", "pytest", "playwright", "mypy", "sqlalchemy"):
        assert not _has(venv, absent), f"{absent} came with the tablet's set"
    port = _free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "ems-ambulance"), "tablet", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/", proc) == 200
    finally:
        proc.terminate()
        proc.wait(10)


def _production_env(tmp_path: Path) -> dict[str, str]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        **os.environ,
        "EMS_ENV": "production",
        "EMS_SECRET_KEY": secrets.token_urlsafe(32),
        "EMS_RECORD_ENCRYPTION_KEY": f"k1:{key}",
        "EMS_DATABASE_URL": f"sqlite:///{tmp_path / 'ems.sqlite3'}",
        "EMS_PKI_DIR": str(tmp_path / "pki"),
        "EMS_REGION_DIR": str(tmp_path / "region"),
    }


def test_the_relay_installs_and_runs_alone(tmp_path: Path) -> None:
    venv = _fresh_env(tmp_path, "relay")
    # Not the dispatcher's solver and road network, not the web server, not the tools.
    for absent in ("ortools", "valhalla", "osmium", "gunicorn", "pytest", "playwright", "mypy"):
        assert not _has(venv, absent), f"{absent} came with the relay's set"
    for absent in ("cv2", "av", "pkcs11"):  # the tablet's capture, encoder and card reader
        assert not _has(venv, absent), f"{absent} came with the relay's set"
    python = str(venv / "bin" / "python")
    # Every module of the relay, the analysis it loads on first use included.
    modules = sorted(
        f"hospital_gateway.{p.stem}"
        for p in (ROOT / "hospital_gateway").glob("*.py")
        if p.stem not in ("__init__", "__main__")
    )
    imported = subprocess.run(
        [python, "-c", f"import {', '.join(modules)}, ems.analysis.stream, ems.analysis.vitals"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    relay = str(venv / "bin" / "ems-relay")
    helped = subprocess.run([relay, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert helped.returncode == 0 and "--port" in helped.stdout, helped.stderr
    port = _free_port()
    proc = subprocess.Popen(
        [relay, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=_production_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/healthz", proc) == 200
    finally:
        proc.terminate()
        # SIGTERM closes every connection and stops the relay cleanly.
        assert proc.wait(10) == 0


def test_the_server_installs_and_runs_alone(tmp_path: Path) -> None:
    venv = _fresh_env(tmp_path, "server")
    for absent in ("pytest", "playwright", "mypy", "cv2", "av", "matplotlib"):
        assert not _has(venv, absent), f"{absent} came with the server's set"
    env = _production_env(tmp_path)
    ems = str(venv / "bin" / "ems")
    migrated = subprocess.run(
        [ems, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    proc = subprocess.Popen(
        [ems, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/healthz", proc) == 200
    finally:
        proc.terminate()
        proc.wait(10)
