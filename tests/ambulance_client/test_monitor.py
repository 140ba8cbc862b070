"""The simulated monitor: a plausible ECG at 250 Hz and drifting vitals."""

from __future__ import annotations

import itertools

from ambulance_client.monitor import SimulatedMonitor
from ems_contracts.vitals import VitalsPayload


def test_the_ecg_beats_at_the_heart_rate() -> None:
    mon = SimulatedMonitor(hr=90, seed=1)
    samples = mon.ecg(250 * 10)  # ten seconds
    # Count R peaks: rising through 600 µV.
    peaks = sum(1 for a, b in itertools.pairwise(samples) if a < 600 <= b)
    assert 14 <= peaks <= 16  # 90 bpm → 15 beats
    assert max(samples) > 900 and min(samples) > -600


def test_vitals_stay_plausible_and_pass_the_relays_validation() -> None:
    mon = SimulatedMonitor(seed=2)
    readings = [mon.vitals() for _ in range(500)]
    for v in readings:
        VitalsPayload.model_validate(v.as_dict())
        assert v.bp_dia < v.bp_sys
    assert len({v.hr for v in readings}) > 3  # it moves
