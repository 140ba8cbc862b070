"""Runs every benchmark module (``bench/bench_*.py``), prints the figures and writes
them to ``bench/results.json`` as one flat object of metric name → number.

Each module exposes ``run() -> dict[str, float]``. ``python -m bench.run NAME…``
runs only the named modules (e.g. ``cards``).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    results_path = HERE / "results.json"
    results: dict[str, float] = {}
    if results_path.exists() and argv:
        results = json.loads(results_path.read_text())
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            figures = module.run()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
            continue
        for key, value in figures.items():
            print(f"   {key} = {value}", flush=True)
        results.update(figures)
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {results_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
