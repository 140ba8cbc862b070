"""``ems analyze ecg --fs 250 FILE``: the rhythm analysis of a file, for checking and
for operators. The file holds one sample a line, in mV (``-`` reads standard input)."""

from __future__ import annotations

import json
import math
from typing import TextIO

import click


def register(main: click.Group) -> None:
    main.add_command(analyze)


@click.group("analyze")
def analyze() -> None:
    """Patient analysis (decision support, not a diagnosis)."""


@analyze.command("ecg")
@click.option("--fs", type=float, required=True, help="sample rate in Hz (100–2000)")
@click.option(
    "--powerline",
    type=click.Choice(["50", "60"]),
    default="50",
    show_default=True,
    help="mains frequency to filter out (eastern Japan 50 Hz, western 60 Hz)",
)
@click.argument("file", type=click.File("r", encoding="utf-8"))
def analyze_ecg_command(fs: float, powerline: str, file: TextIO) -> None:
    """Print {rhythm, heart_rate_bpm, shockable, confidence} of an ECG as JSON."""
    samples: list[float] = []
    for number, line in enumerate(file, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise click.ClickException(f"line {number} is not a number: {text[:40]!r}") from None
        if not math.isfinite(value):
            raise click.ClickException(f"line {number} is not a finite number: {text[:40]!r}")
        samples.append(value)
    if not samples:
        raise click.ClickException("the file holds no samples")

    # neurokit2 takes a few seconds to import: only when a command needs it.
    try:
        from ems.analysis.ecg import analyze_ecg
    except ImportError:
        raise click.ClickException(
            "the ECG analysis needs the analysis set: pip install 'ems-coordination[analysis]'"
        ) from None
    from ems.analysis.errors import AnalysisInputError

    try:
        result = analyze_ecg(samples, fs=fs, powerline_hz=int(powerline))
    except AnalysisInputError as err:
        raise click.ClickException(f"{err.code}: {err.detail}") from None
    click.echo(json.dumps(result.summary()))
