"""The server's gunicorn settings: one place for ``ems serve``, the demo and the load run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ems import gunicorn_conf
from ems.gunicorn_conf import gunicorn_argv


def test_gunicorn_reads_the_shared_settings_and_keeps_the_callers_own() -> None:
    argv = gunicorn_argv(bind="127.0.0.1:0", workers=3)
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", *argv, "--timeout", "7"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    settings = {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in out.splitlines())
        if value
    }
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == "32"
    assert settings["workers"] == "3"
    assert settings["timeout"] == "7"  # the caller's own option wins
    assert settings["post_fork"] == "<post_fork()>"


def test_a_forked_worker_takes_short_turns_on_the_interpreter() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        gunicorn_conf.post_fork(None, None)
        assert sys.getswitchinterval() == pytest.approx(gunicorn_conf.SWITCH_INTERVAL_S)
        assert gunicorn_conf.SWITCH_INTERVAL_S < 0.005
    finally:
        sys.setswitchinterval(before)
