"""Patient analysis throughput.

- ``analysis_streams_per_core``: 250 Hz ECG streams that one core keeps up with in
  real time: each stream is an ``EcgStreamAnalyzer`` (10 s window, a result every
  2 s of signal) fed one-second records in µV as the relay receives them, the
  process pinned to one CPU, CPU time measured. Streams mix sinus, AF, VT, VF and
  asystole from the test generators.
- ``analysis_ms_per_window``: CPU time of one 10 s analysis.
"""

from __future__ import annotations

import os
import time

import numpy as np

STREAMS = 20
SECONDS = 60
FS = 250


def _records(seed: int) -> list[list[int]]:
    from tests.ems.analysis import signals

    generate = list(signals.GENERATORS.values())[seed % len(signals.GENERATORS)]
    x = np.concatenate([generate(seed * 10 + k) for k in range(SECONDS // 10)])
    uv = np.clip(np.round(x * 1000), -32768, 32767).astype(int)
    return [uv[i : i + FS].tolist() for i in range(0, len(uv), FS)]


def run() -> dict[str, float]:
    from ems.analysis.stream import EcgStreamAnalyzer

    streams = [_records(seed) for seed in range(STREAMS)]
    analyzers = [EcgStreamAnalyzer(window_s=10, every_s=2) for _ in streams]
    pinned = hasattr(os, "sched_setaffinity")
    before = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(before)})
    try:
        results = 0
        t0 = time.process_time()
        for second in range(SECONDS):
            for analyzer, records in zip(analyzers, streams, strict=True):
                if analyzer.feed(records[second], sample_rate_hz=FS, seq=second) is not None:
                    results += 1
        cpu = time.process_time() - t0
    finally:
        if pinned:
            os.sched_setaffinity(0, before)
    return {
        "analysis_streams_per_core": round(STREAMS * SECONDS / cpu, 1),
        "analysis_ms_per_window": round(cpu / results * 1e3, 2),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value}")
