"""Sensitivity and specificity of the ECG rhythm analysis per rhythm, on labelled
signals from tests/ems/analysis/signals.py (neurokit2's ECGSYN and our arrhythmia
generators, not the demo monitor), for the README.

    .venv/bin/python -m bench.analysis_accuracy [--per-class 20] [--seed 1000]

"noisy" signals are sinus buried in muscle noise: the right answer is ``unknown``.
No real recording is used: neurokit2's example recordings (``nk.data``) are
downloaded at run time, not shipped in its wheel.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

LABELS = ["sinus", "af", "vt", "vf", "asystole", "unknown"]


def evaluate(per_class: int, first_seed: int) -> tuple[dict[str, Counter[str]], int, float]:
    """Confusion counts (truth → predicted), signals analysed, seconds per analysis."""
    from ems.analysis.ecg import analyze_ecg
    from tests.ems.analysis import signals

    generators = {**signals.GENERATORS, "unknown": signals.noisy}
    confusion: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    spent = 0.0
    for truth, generate in generators.items():
        for i in range(per_class):
            x = generate(first_seed + i)
            t0 = time.perf_counter()
            result = analyze_ecg(x, fs=signals.FS)
            spent += time.perf_counter() - t0
            confusion[truth][result.rhythm.value] += 1
    n = per_class * len(generators)
    return confusion, n, spent / n


def table(confusion: dict[str, Counter[str]]) -> list[tuple[str, int, float, float]]:
    """(rhythm, signals, sensitivity, specificity) for each rhythm."""
    total = sum(sum(c.values()) for c in confusion.values())
    rows = []
    for label in LABELS:
        positives = sum(confusion[label].values())
        tp = confusion[label][label]
        fp = sum(confusion[t][label] for t in LABELS if t != label)
        negatives = total - positives
        rows.append((label, positives, tp / positives if positives else 0.0, 1 - fp / negatives))
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000, help="first seed (the tests use 100)")
    args = parser.parse_args(argv)
    confusion, n, per_analysis = evaluate(args.per_class, args.seed)
    print(
        f"{n} labelled 10 s signals at 250 Hz, seeds {args.seed}–{args.seed + args.per_class - 1}"
    )
    print()
    print("| rhythm | signals | sensitivity | specificity |")
    print("| --- | --- | --- | --- |")
    for label, count, sens, spec in table(confusion):
        print(f"| {label} | {count} | {sens:.2f} | {spec:.2f} |")
    print()
    for truth in LABELS:
        wrong = {k: v for k, v in confusion[truth].items() if k != truth}
        if wrong:
            print(f"{truth} misread as {dict(wrong)}")
    print(f"{per_analysis * 1e3:.1f} ms per 10 s analysis")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
