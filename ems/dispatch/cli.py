"""``ems simulate`` and ``ems region build``: the dispatch commands of the ``ems`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ems.config import Config


def register(main: click.Group) -> None:
    main.add_command(simulate)
    main.add_command(region)


@click.command("simulate")
@click.option("--days", type=float, default=7.0, show_default=True, help="simulated days")
@click.option(
    "--seed", type=int, default=1, show_default=True, help="seed of the first replication"
)
@click.option("--replications", type=int, default=10, show_default=True, help="seeded replications")
@click.option("--region", "region_key", default="demo", show_default=True)
@click.option("--population", type=int, default=None, help="scale the region to this many people")
@click.option(
    "--levers",
    default=None,
    help="policy B's levers, comma-separated (parallel, early, assign, move_up, fresh_beds, "
    "instruction, card); "
    "default: every lever the product has, card reading off",
)
@click.option("--no-ablation", is_flag=True, help="skip the runs of each lever alone")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="write a PNG of both call → hospital distributions and the stages",
)
@click.option(
    "--straight-line",
    is_flag=True,
    help="straight-line travel estimates instead of the region's roads (a labelled fallback)",
)
def simulate(
    days: float,
    seed: int,
    replications: int,
    region_key: str,
    population: int | None,
    levers: str | None,
    no_ablation: bool,
    as_json: bool,
    plot_path: str | None,
    straight_line: bool,
) -> None:
    """Simulate the region under today's practice (A) and this system (B), lever by lever."""
    from ems.dispatch import routing
    from ems.dispatch import simulate as sim
    from ems.dispatch.region import build_region, is_built, load_region, region_dir

    if days <= 0 or days > 3660:
        raise click.BadParameter("between 0 and 3660 days", param_hint="--days")
    if not 1 <= replications <= 200:
        raise click.BadParameter("between 1 and 200", param_hint="--replications")
    chosen = sim.IN_B
    if levers is not None:
        chosen = frozenset(x.strip() for x in levers.split(",") if x.strip())
        unknown = chosen - set(sim.ALL_LEVERS)
        if unknown:
            raise click.BadParameter(
                f"unknown {sorted(unknown)}; choose from {', '.join(sim.ALL_LEVERS)}",
                param_hint="--levers",
            )
    pack = load_region(region_key)
    router = None
    if not straight_line:
        # Roads by default: the region's Valhalla tiles, built on first use.
        out = region_dir(Config.from_env().REGION_DIR, region_key)
        if not is_built(out.parent, region_key):
            click.echo(f"building the road tiles of region {region_key} in {out}", err=True)
            build_region(pack, out)
        router = routing.router_for(out)
    report = sim.run(
        sim.SimParams(days=days, seed=seed, population=population, levers=chosen),
        pack=pack,
        router=router,
        replications=replications,
        ablation=not no_ablation,
    )
    if plot_path:
        sim.plot(report, Path(plot_path))
    samples = report.pop("_samples")
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(sim.format_report(report))
        if plot_path:
            click.echo(f"plot written to {plot_path} ({len(samples['A'])} transports per policy)")


@click.group("region")
def region() -> None:
    """Region packs: road data and Valhalla tiles."""


@region.command("build")
@click.option("--region", "region_key", default="demo", show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="defaults to REGION_DIR/<region>",
)
def region_build(region_key: str, out_dir: str | None) -> None:
    """Build the region's Valhalla tiles (generating its road network if it ships none)."""
    from ems.dispatch.region import build_region, load_region, region_dir

    pack = load_region(region_key)
    out = Path(out_dir) if out_dir else region_dir(Config.from_env().REGION_DIR, region_key)
    report = build_region(pack, out)
    kind = "generated" if report.generated else "shipped"
    click.echo(
        f"region {report.region}: tiles built in {report.seconds:.1f} s from the {kind} "
        f"road network {report.pbf} → {report.config.parent}"
    )
