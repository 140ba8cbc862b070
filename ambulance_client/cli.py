"""The ``ems-ambulance`` command: the tablet's card reader, capture and streaming."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """The ambulance tablet."""


def _register() -> None:
    from ambulance_client import card_cli, stream_cli, tablet_cli

    for module in (card_cli, stream_cli, tablet_cli):
        module.register(main)


_register()
