"""The per-process CPU figures the load run prints come from /proc."""

from __future__ import annotations

import os
import threading
import time

from simulation.procs import cpu_seconds, machine_busy_seconds, runqueue_seconds


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_and_runqueue_time_grow_with_work() -> None:
    pid = os.getpid()
    cpu0, wait0 = cpu_seconds(pid), runqueue_seconds(pid)
    busy0, total0 = machine_busy_seconds()
    # Three spinning threads on this process: more runnable threads than one GIL.
    threads = [threading.Thread(target=_spin, args=(0.1,)) for _ in range(3)]
    for t in threads:
        t.start()
    _spin(0.2)
    for t in threads:
        t.join()
    busy1, total1 = machine_busy_seconds()
    assert cpu_seconds(pid) - cpu0 >= 0.15
    assert runqueue_seconds(pid) >= wait0
    assert busy1 - busy0 >= 0.15
    assert 0 < busy1 - busy0 <= total1 - total0


def test_a_process_that_is_gone_reads_as_zero() -> None:
    assert cpu_seconds(2**22 + 7) == 0.0
    assert runqueue_seconds(2**22 + 7) == 0.0
