"""``ems analyze ecg``: JSON for a good file, a one-line error for a bad one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ems.cli import main
from tests.ems.analysis import signals


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["analyze", "ecg", *args])
    return result.exit_code, result.output


def _write(path: Path, x: np.ndarray) -> str:
    path.write_text("\n".join(f"{v:.4f}" for v in x) + "\n", encoding="utf-8")
    return str(path)


def test_prints_the_four_figures(tmp_path: Path) -> None:
    code, out = _run("--fs", "250", _write(tmp_path / "vf.txt", signals.vf(8)))
    assert code == 0, out
    body = json.loads(out)
    assert body["rhythm"] == "vf" and body["shockable"] is True
    assert body["heart_rate_bpm"] is None and 0 <= body["confidence"] <= 1
    code, out = _run("--fs", "250", _write(tmp_path / "s.txt", signals.sinus_rate(1, 72)))
    assert json.loads(out)["heart_rate_bpm"] == pytest.approx(72, abs=5)


@pytest.mark.parametrize(
    ("content", "fs", "message"),
    [
        ("", "250", "no samples"),
        ("0.1\nabc\n", "250", "line 2 is not a number"),
        ("0.1\nnan\n", "250", "not a finite number"),
        ("0.1\n" * 3000, "20", "bad_sample_rate"),
        ("0.1\n" * 300, "250", "too_short"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, content: str, fs: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    code, out = _run("--fs", fs, str(path))
    assert code != 0
    assert message in out
    assert "Traceback" not in out


def test_a_missing_file_or_fs_is_a_usage_error(tmp_path: Path) -> None:
    assert _run("--fs", "250", str(tmp_path / "none.txt"))[0] == 2
    assert _run(str(tmp_path / "none.txt"))[0] == 2
