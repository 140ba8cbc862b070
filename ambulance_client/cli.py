"""The ``ems-ambulance`` command: the tablet's card reader, capture and streaming."""

from __future__ import annotations

import importlib

import click


@click.group()
def main() -> None:
    """The ambulance tablet."""


def _register() -> None:
    for name in (
        "ambulance_client.card_cli",
        "ambulance_client.stream_cli",
        "ambulance_client.tablet_cli",
    ):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(main)


_register()
