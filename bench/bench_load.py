"""``make bench`` figures of the load run (``bench/load.py``): API latency p50/p99
and errors under 300 units, 30 streams × 3 viewers and dispatch traffic, on
PostgreSQL with 4 gunicorn workers."""

from __future__ import annotations

import os

from bench.load import print_report, run_load


def run() -> dict[str, float]:
    result = run_load(
        duration_s=float(os.environ.get("EMS_LOAD_DURATION_S", "60")),
        database=os.environ.get("EMS_LOAD_DATABASE", "bench_load"),
    )
    print_report(result)
    return {
        "load_api_ms_p50": round(result["p50_ms"], 1),
        "load_api_ms_p99": round(result["p99_ms"], 1),
        "load_errors": float(result["errors"]),
        "load_server_ms_p99": round(result["server_ms_p99"], 1),
        "load_requests_per_s": round(result["requests_per_s"], 1),
        "load_relay_cpu_pct": round(result["relay_cpu_pct"], 1),
        "load_frame_ms_p99": round(result["frame_ms_p99"], 1),
    }
