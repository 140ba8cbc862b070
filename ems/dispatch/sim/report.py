"""Replications, confidence intervals, the ablation of B's levers, and the report.

``run`` simulates N seeded replications; within one replication policy A, policy B and
each lever alone meet the same stream (common random numbers), so differences are
paired. The runs are spread over the machine's cores: the region's travel grid is
computed once, in the parent, and handed to each worker once. The workers start from a
fork server, never by forking the caller, which may run threads (a router, a web
server) whose locks a forked child could inherit held.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ems.dispatch import routing
from ems.dispatch.region import RegionPack, load_region
from ems.dispatch.sim import stats
from ems.dispatch.sim.model import (
    ALL_LEVERS,
    ASSUMPTIONS,
    NOT_IN_PRODUCT,
    STAGES,
    Lever,
    Region,
    SimParams,
    Stream,
    simulate,
)

# FDMA 2022 stage means (FIELD.md, "Where the minutes go").
FDMA_2022 = {
    "national": (10.3, 1.3, 7.7, 12.3, 12.9, 2.8),
    ">=700k": (10.8, 1.5, 8.7, 14.8, 11.7, None),
    "<50k": (9.7, 1.2, 7.3, 7.6, 19.1, None),
}
FDMA_2022_TOTAL = (
    47.2  # 119 call → handover, as published (its stages, read from a figure, sum to 47.3)
)
FDMA_4PLUS = (0.03, 0.04)
LEVER_NAMES = {
    Lever.PARALLEL: "(1) parallel requests, first accept wins",
    Lever.EARLY: "(2) ask ahead while the unit drives",
    Lever.ASSIGN: "(3) unit choice by the OR-Tools assignment",
    Lever.MOVE_UP: "(3b) move-up of idle units (DMEXCLP)",
    Lever.FRESH_BEDS: "(4) fresh bed figures",
    Lever.INSTRUCTION: "(5) doctor's instruction on the tablet",
    Lever.CARD: "(6) card reading (off in B)",
}
SUMMARY_KEYS = (
    "incidents", "mean_min", "p50_min", "p90_min", "call_to_scene_mean_min",
    "on_scene_mean_min", "transport_mean_min", "inquiries_mean", "serious_cases",
    "share_4plus_inquiries", "share_4plus_rounds", "unit_utilisation",
    "call_to_instruction_mean_min",
)  # fmt: skip

_REGION: Region | None = None  # the region the runs of this process simulate


def _init_worker(region: Region) -> None:
    global _REGION
    _REGION = region


def _one(task: tuple[int, str, frozenset[str]]) -> tuple[int, str, dict[str, float], list[float]]:
    seed, name, levers = task
    assert _REGION is not None
    res = simulate(Stream(_REGION, _REGION.params, seed), levers)
    return seed, name, res.summary(), [sum(o.stages[:5]) for o in res.outcomes]


def configs(levers: frozenset[str]) -> dict[str, frozenset[str]]:
    """A, B and, for the ablation, each lever alone (those B uses, and card reading)."""
    out = {"A": frozenset(), "B": levers}
    for lever in ALL_LEVERS:
        out[f"lever:{lever}"] = frozenset({lever})
    return out


def run(
    params: SimParams,
    *,
    pack: RegionPack | None = None,
    router: routing.Router | None = None,
    replications: int = 10,
    ablation: bool = True,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate A, B and the levers over ``replications`` seeds; the report as a dict."""
    global _REGION
    region = Region(pack or load_region(), params, router)
    _REGION = region
    cfg = configs(params.levers)
    if not ablation:
        cfg = {k: v for k, v in cfg.items() if k in ("A", "B")}
    seeds = [params.seed + r for r in range(max(1, replications))]
    tasks = [(s, name, lv) for s in seeds for name, lv in cfg.items()]
    n = workers or min(len(tasks), os.cpu_count() or 1)
    results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in cfg}
    samples: dict[str, list[float]] = {"A": [], "B": []}
    try:
        if n <= 1:
            outs = map(_one, tasks)
            _collect(outs, results, samples, seeds[0], progress)
        else:
            ctx = multiprocessing.get_context("forkserver")
            # The server imports the model once; each worker forked from it starts ready.
            ctx.set_forkserver_preload([__name__])
            with ProcessPoolExecutor(
                n, mp_context=ctx, initializer=_init_worker, initargs=(region,)
            ) as pool:
                _collect(pool.map(_one, tasks), results, samples, seeds[0], progress)
    finally:
        _REGION = None
    return _report(region, params, seeds, results, samples)


def _collect(
    outs: Any,
    results: dict[str, dict[int, dict[str, float]]],
    samples: dict[str, list[float]],
    first_seed: int,
    progress: Callable[[str], None] | None,
) -> None:
    for seed, name, summary, times in outs:
        results[name][seed] = summary
        if name in samples and seed == first_seed:
            samples[name] = times
        if progress:
            progress(f"seed {seed} {name}: {summary.get('incidents', 0):.0f} transports")


def _series(results: dict[int, dict[str, float]], seeds: list[int], key: str) -> list[float]:
    return [results[s].get(key, math.nan) for s in seeds]


def _r(x: float, nd: int = 3) -> float | None:
    return None if x is None or math.isnan(x) else round(x, nd)


def _report(
    region: Region,
    params: SimParams,
    seeds: list[int],
    results: dict[str, dict[int, dict[str, float]]],
    samples: dict[str, list[float]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ci: dict[str, list[float | None]] = {}
    for policy in ("A", "B"):
        res = results[policy]
        summary: dict[str, float | None] = {}
        for key in SUMMARY_KEYS:
            m, lo, hi = stats.mean_ci(_series(res, seeds, key))
            share = key.startswith("share") or key == "unit_utilisation"
            nd = 4 if share else 2
            summary[key] = _r(m, nd)
            if key not in ("incidents", "serious_cases"):
                # A share lies in [0, 1] and a time or a count is never negative: the t
                # interval of few replications is cut there, never shown beyond.
                ci[f"{policy}.{key}"] = [
                    _r(max(lo, 0.0), nd),
                    _r(min(hi, 1.0) if share else hi, nd),
                ]
        out[policy] = summary
    stages: dict[str, dict[str, float | None]] = {}
    for policy in ("A", "B"):
        stages[policy] = {}
        for st in STAGES:
            m, lo, hi = stats.mean_ci(_series(results[policy], seeds, f"stage.{st}"))
            stages[policy][st] = _r(m, 2)
            ci[f"{policy}.stages.{st}"] = [_r(max(lo, 0.0), 2), _r(hi, 2)]
    out["stages"] = stages
    a_mean = _series(results["A"], seeds, "mean_min")
    for key in ("mean_min", "p90_min", "call_to_instruction_mean_min"):
        _, lo, hi = stats.paired_ci(
            _series(results["A"], seeds, key), _series(results["B"], seeds, key)
        )
        ci[f"B_minus_A_{key}"] = [_r(lo, 2), _r(hi, 2)]
    b_saving = stats.paired_ci(_series(results["B"], seeds, "mean_min"), a_mean)[0]
    levers: dict[str, Any] = {}
    for lever in ALL_LEVERS:
        name = f"lever:{lever}"
        entry: dict[str, Any] = {
            "label": LEVER_NAMES[lever],
            "in_product": True,
            "in_B": lever in params.levers,
        }
        if results.get(name):
            alone = _series(results[name], seeds, "mean_min")
            m, lo, hi = stats.paired_ci(alone, a_mean)  # saving = A − alone
            instr = _series(results[name], seeds, "call_to_instruction_mean_min")
            a_instr = _series(results["A"], seeds, "call_to_instruction_mean_min")
            im, ilo, ihi = stats.paired_ci(instr, a_instr)  # saving = A − alone
            entry.update(
                saving_alone_min=_r(m, 2),
                saving_alone_ci95=[_r(lo, 2), _r(hi, 2)],
                share_in_B=_r(m / b_saving, 3) if b_saving and lever in params.levers else None,
                mean_min=_r(stats.mean_ci(alone)[0], 2),
                call_to_instruction_saving_min=_r(im, 2),
                call_to_instruction_saving_ci95=[_r(ilo, 2), _r(ihi, 2)],
            )
        levers[lever] = entry
    for key, why in NOT_IN_PRODUCT.items():
        levers[key] = {"label": why, "in_product": False, "in_B": False}
    out["levers"] = levers
    out["ci95"] = ci
    out["meta"] = {
        "region": region.pack.key,
        "days": params.days,
        "seed": params.seed,
        "replications": len(seeds),
        "population": round(region.population),
        "units": len(region.unit_station),
        "stations": len(region.stations),
        "hospitals": region.n_h,
        "travel_source": region.travel_source,
        "levers_in_B": sorted(params.levers),
        "B_saving_mean_min": _r(b_saving, 2),
        "assumptions": dict(ASSUMPTIONS),
    }
    out["_samples"] = samples
    return out


def _fmt_ci(ci: list[float | None] | None, fmt: str) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def format_report(report: dict[str, Any]) -> str:
    m = report["meta"]
    ci = report["ci95"]
    lines = [
        f"region {m['region']}: {m['population']:,} people, {m['units']} units at "
        f"{m['stations']} stations, {m['hospitals']} hospitals, {m['days']:g} days × "
        f"{m['replications']} replications from seed {m['seed']} "
        f"(travel times: {m['travel_source']}"
        + (", a labelled fallback" if m["travel_source"] == routing.STRAIGHT_LINE else "")
        + ")",
        "mean of the replications [95 % CI]",
        "",
        f"{'':38}{'A: phone, one at a time':>30}{'B: the system':>30}",
    ]
    rows = [
        ("transports", "incidents", "{:.0f}"),
        ("mean call → hospital (min)", "mean_min", "{:.1f}"),
        ("p50 call → hospital (min)", "p50_min", "{:.1f}"),
        ("p90 call → hospital (min)", "p90_min", "{:.1f}"),
        ("mean inquiries", "inquiries_mean", "{:.2f}"),
        ("serious cases with ≥4 inquiries", "share_4plus_inquiries", "{:.1%}"),
        ("serious cases with ≥4 rounds", "share_4plus_rounds", "{:.1%}"),
        ("119 call → instruction (min)", "call_to_instruction_mean_min", "{:.1f}"),
        ("unit utilisation", "unit_utilisation", "{:.1%}"),
    ]
    for label, key, fmt in rows:
        cells = []
        for p in ("A", "B"):
            v = report[p].get(key)
            cells.append("" if v is None else fmt.format(v) + _fmt_ci(ci.get(f"{p}.{key}"), fmt))
        lines.append(f"{label:38}{cells[0]:>30}{cells[1]:>30}")
    d = ci["B_minus_A_mean_min"]
    lines.append(
        f"{'B − A, mean call → hospital (min)':38}{'':>30}"
        f"{report['B']['mean_min'] - report['A']['mean_min']:+.2f}{_fmt_ci(d, '{:+.2f}')}".rjust(0)
    )
    ratio = report["B"]["mean_min"] / report["A"]["mean_min"]
    lines.append(f"{'B / A':38}{'':>30}{ratio:>30.3f}")
    lines += ["", "Stages (mean min) beside FDMA 2022", _stage_table(report)]
    lines += ["", "Levers of B: saving of each alone over A (paired, min) [95 % CI]"]
    lines.append(_lever_table(report))
    lines += ["", "Parameters (FIELD.md source or stated assumption):"]
    lines += [f"  {k}: {v}" for k, v in m["assumptions"].items()]
    return "\n".join(lines)


def _stage_table(report: dict[str, Any]) -> str:
    ci = report["ci95"]
    head = (
        f"{'stage':24}{'A':>20}{'B':>20}{'FDMA national':>15}{'A/FDMA':>8}{'≥700k':>7}{'<50k':>6}"
    )
    lines = [head]
    for i, st in enumerate(STAGES):
        a, b = report["stages"]["A"][st], report["stages"]["B"][st]
        nat = FDMA_2022["national"][i]
        big, small = FDMA_2022[">=700k"][i], FDMA_2022["<50k"][i]
        lines.append(
            f"{st:24}{f'{a:.1f}' + _fmt_ci(ci.get(f'A.stages.{st}'), '{:.1f}'):>20}"
            f"{f'{b:.1f}' + _fmt_ci(ci.get(f'B.stages.{st}'), '{:.1f}'):>20}"
            f"{nat:>15.1f}{a / nat - 1:>+8.0%}"
            f"{'' if big is None else f'{big:.1f}':>7}{'' if small is None else f'{small:.1f}':>6}"
        )
    a4 = report["A"]["share_4plus_inquiries"]
    lines.append(
        f"{'serious ≥4 inquiries':24}{a4:>20.1%}{report['B']['share_4plus_inquiries']:>20.1%}"
        f"{'3–4 %':>15}"
    )
    return "\n".join(lines)


def _lever_table(report: dict[str, Any]) -> str:
    lines = [
        f"{'lever':46}{'in B':>6}{'call → hospital saved':>28}{'call → instruction saved':>28}"
    ]
    for entry in report["levers"].values():
        if not entry["in_product"]:
            lines.append(f"{entry['label']:46}{'no':>6}{'not in the product':>28}")
            continue
        if "saving_alone_min" not in entry:
            continue
        s = f"{entry['saving_alone_min']:+.2f}" + _fmt_ci(entry["saving_alone_ci95"], "{:+.2f}")
        i_s = entry["call_to_instruction_saving_min"]
        ins = (
            ""
            if i_s is None
            else f"{i_s:+.2f}" + _fmt_ci(entry["call_to_instruction_saving_ci95"], "{:+.2f}")
        )
        lines.append(f"{entry['label']:46}{'yes' if entry['in_B'] else 'no':>6}{s:>28}{ins:>28}")
    m = report["meta"]
    d = report["ci95"]["B_minus_A_mean_min"]
    lines.append(
        f"{'all of B together':46}{'':>6}"
        f"{f'{m["B_saving_mean_min"]:+.2f}' + _fmt_ci([-d[1], -d[0]], '{:+.2f}'):>28}"
    )
    return "\n".join(lines)


# FDMA's names of the stages (shared/FIELD.md, "Where the minutes go"), for the plot.
STAGE_LABELS = {
    "call_to_scene": "119 call → on scene",
    "scene_to_contact": "on scene → patient contact",
    "contact_to_loaded": "contact → in the ambulance",
    "loaded_to_departure": "in the ambulance → leaves (hospital selection)",
    "departure_to_hospital": "leaves the scene → hospital",
    "hospital_to_handover": "hospital → handover",
}


def plot(report: dict[str, Any], path: Path) -> None:
    """A PNG: both call → hospital distributions (first replication) and the stages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = report["_samples"]
    top = max(max(samples["A"], default=60), max(samples["B"], default=60))
    bins = list(range(0, min(int(top) + 5, 180), 2))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.4), dpi=110)
    for policy, colour, label in (
        ("A", "#c0392b", "A: phone one hospital at a time"),
        ("B", "#2471a3", "B: the system"),
    ):
        s = report[policy]
        ax.hist(
            samples[policy], bins=bins, alpha=0.55, color=colour,
            label=f"{label} (mean {s['mean_min']:.1f}, p90 {s['p90_min']:.1f} min)",
        )  # fmt: skip
        ax.axvline(s["mean_min"], color=colour, linestyle="--", linewidth=1)
    m = report["meta"]
    ax.set_title(f"119 call → hospital, {m['days']:g} days, {m['population']:,} people")
    if m["replications"] > 1:  # the bars are the first replication; the means all of them
        ax.text(
            0.99, 0.80, f"transports of replication 1; means of {m['replications']}",
            transform=ax.transAxes, ha="right", fontsize=8, color="#555",
        )  # fmt: skip
    ax.set_xlabel("minutes")
    ax.set_ylabel("transports")
    ax.legend(fontsize=8)
    bars = {"A": report["stages"]["A"], "B": report["stages"]["B"]}
    cols = {"FDMA 2022": dict(zip(STAGES, FDMA_2022["national"], strict=True)), **bars}
    colours = ("#7f8c8d", "#c0392b", "#2471a3")
    left = [0.0] * len(cols)
    names = list(cols)
    for j, st in enumerate(STAGES):
        vals = [float(cols[n][st] or 0) for n in names]
        bx.barh(names, vals, left=left, label=STAGE_LABELS[st], color=f"C{j}")
        left = [a + b for a, b in zip(left, vals, strict=True)]
    for i, total in enumerate(left):  # call → handover, at the end of each bar
        text = f"{total:.1f}"
        if names[i] == "FDMA 2022":
            text += f" (published: {FDMA_2022_TOTAL:.1f})"
        bx.text(total + 0.5, i, text, va="center", fontsize=8)
    for tick, c in zip(bx.get_yticklabels(), colours, strict=False):
        tick.set_color(c)
    bx.set_xlim(0, max(left) * 1.4)
    bx.set_xlabel("minutes, stage by stage (to handover)")
    bx.set_title("Where the minutes go (mean)")
    # Below the bars, never over them.
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
