"""The demo is the simulation's command, not the server's: ``python -m simulation demo``
takes the options ``ems demo`` took, and the ``ems`` command has no demo any more."""

from __future__ import annotations

from click.testing import CliRunner

from ems.cli import main as ems_main
from simulation.__main__ import main


def test_the_demo_and_the_region_are_simulation_commands() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    for option in (
        "--var-dir",
        "--host",
        "--port",
        "--relay-port",
        "--tablet-port",
        "--incidents",
        "--interval",
        "--speed",
        "--duration",
        "--video / --no-video",
    ):
        assert option in result.output
    region = CliRunner().invoke(main, ["region", "--help"])
    assert region.exit_code == 0, region.output
    assert "--api" in region.output and "--no-video" in region.output


def test_the_server_command_has_no_demo() -> None:
    result = CliRunner().invoke(ems_main, ["demo"])
    assert result.exit_code != 0
    assert "No such command 'demo'" in result.output
