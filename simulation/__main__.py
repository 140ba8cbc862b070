"""``python -m simulation``: the demo and the simulated region.

- ``python -m simulation demo``: the whole system with a simulated region, on SQLite
  (``make demo``);
- ``python -m simulation region``: only the simulated region, against a system that
  is already running (the demo starts it so).
"""

from __future__ import annotations

import click

from simulation import demo, region


@click.group()
def main() -> None:
    """Simulated users of the EMS coordination system, and the demo that runs them."""


main.add_command(demo.command)
main.add_command(region.command)


if __name__ == "__main__":
    main()
