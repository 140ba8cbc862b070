"""The simulated monitor: a plausible ECG at 250 Hz and drifting vitals."""

from __future__ import annotations

import itertools

from ambulance_client.monitor import ArrestScenario, SimulatedMonitor
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


def test_the_arrest_scenario_plays_vf_a_shock_and_rosc_as_the_relays_analysis_reads_it() -> None:
    from ems.analysis.ecg import Rhythm, analyze_ecg

    mon = SimulatedMonitor(seed=4, scenario="arrest", arrest=ArrestScenario(vf_s=20.0))
    assert mon.phase == "vf"
    vf = analyze_ecg([v / 1000 for v in mon.ecg(250 * 10)], fs=250)
    assert vf.rhythm is Rhythm.VF and vf.shockable
    pulseless = mon.vitals()
    assert (pulseless.hr, pulseless.spo2, pulseless.bp_sys) == (None, None, None)
    VitalsPayload.model_validate(pulseless.as_dict())

    samples = mon.ecg(250 * 10)  # 10 → 20 s: still VF, the shock at 20 s
    assert mon.phase == "shock"
    samples = mon.ecg(250 * 5)  # the shock's saturated spike, then the pause
    assert max(samples) >= 5000
    assert mon.phase == "rosc"
    mon.ecg(250 * 2)
    rosc = analyze_ecg([v / 1000 for v in mon.ecg(250 * 10)], fs=250)
    assert rosc.rhythm is Rhythm.SINUS and not rosc.shockable
    assert rosc.heart_rate_bpm is not None and 105 <= rosc.heart_rate_bpm <= 130
    first, later = mon.vitals(), [mon.vitals() for _ in range(20)][-1]
    assert first.bp_sys is not None and later.bp_sys is not None and later.bp_sys > first.bp_sys
    assert first.spo2 is not None and later.spo2 is not None and later.spo2 > first.spo2
