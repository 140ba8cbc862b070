"""NEWS2 (RCP 2017), the shock index and the deterioration alerts."""

from __future__ import annotations

import pytest

from ems.analysis.vitals import Consciousness, VitalsMonitor, news2, shock_index
from ems_contracts.vitals import VitalsPayload

NORMAL = {"hr": 80, "spo2": 98, "bp_sys": 125, "bp_dia": 80, "rr": 16, "temp_c": 36.8}


def _v(**changes: float) -> VitalsPayload:
    return VitalsPayload.model_validate({**NORMAL, **changes})


@pytest.mark.parametrize(
    ("field", "value", "score"),
    [
        ("rr", 8, 3),
        ("rr", 9, 1),
        ("rr", 11, 1),
        ("rr", 12, 0),
        ("rr", 20, 0),
        ("rr", 21, 2),
        ("rr", 24, 2),
        ("rr", 25, 3),
        ("spo2", 91, 3),
        ("spo2", 92, 2),
        ("spo2", 93, 2),
        ("spo2", 94, 1),
        ("spo2", 95, 1),
        ("spo2", 96, 0),
        ("bp_sys", 90, 3),
        ("bp_sys", 91, 2),
        ("bp_sys", 100, 2),
        ("bp_sys", 101, 1),
        ("bp_sys", 110, 1),
        ("bp_sys", 111, 0),
        ("bp_sys", 219, 0),
        ("bp_sys", 220, 3),
        ("hr", 40, 3),
        ("hr", 41, 1),
        ("hr", 50, 1),
        ("hr", 51, 0),
        ("hr", 90, 0),
        ("hr", 91, 1),
        ("hr", 110, 1),
        ("hr", 111, 2),
        ("hr", 130, 2),
        ("hr", 131, 3),
        ("temp_c", 35.0, 3),
        ("temp_c", 35.1, 1),
        ("temp_c", 36.0, 1),
        ("temp_c", 36.1, 0),
        ("temp_c", 38.0, 0),
        ("temp_c", 38.1, 1),
        ("temp_c", 39.0, 1),
        ("temp_c", 39.1, 2),
    ],
)
def test_each_band_of_the_rcp_chart(field: str, value: float, score: int) -> None:
    assert news2(_v(**{field: value})).total == score


def test_oxygen_and_consciousness_and_what_was_assumed() -> None:
    base = news2(_v())
    assert base.total == 0 and base.risk == "low"
    assert set(base.assumptions) == {"on_air_assumed", "alert_assumed"}
    scored = news2(_v(), consciousness=Consciousness.VOICE, on_oxygen=True)
    assert scored.total == 5 and scored.assumptions == ()
    assert scored.red_parameters == ("consciousness",)
    assert news2(_v(), consciousness=Consciousness.CONFUSION).total == 3


def test_missing_measurements_score_nothing_and_are_listed() -> None:
    partial = news2(VitalsPayload(hr=135))
    assert partial.total == 3
    assert set(partial.missing) == {"respiration_rate", "spo2", "systolic_bp", "temperature"}


def test_risk_bands() -> None:
    assert news2(_v(rr=25)).risk == "low-medium"
    assert news2(_v(rr=22, spo2=93, hr=95)).risk == "medium"  # 2 + 2 + 1
    assert news2(_v(rr=25, spo2=91, hr=95)).risk == "high"  # 3 + 3 + 1


def test_shock_index() -> None:
    assert shock_index(_v(hr=120, bp_sys=100)) == pytest.approx(1.2)
    assert shock_index(VitalsPayload(hr=100)) is None
    assert shock_index(_v(bp_sys=0)) is None


def test_news2_rising_into_five_alerts_once_with_the_numbers() -> None:
    monitor = VitalsMonitor()
    assert monitor.feed(_v()).alerts == ()
    assert monitor.feed(_v(rr=22, hr=95)).alerts == ()  # 3
    rising = monitor.feed(_v(rr=22, hr=95, spo2=93))  # 5
    assert [a.reason for a in rising.alerts] == ["news2_urgent"]
    assert rising.alerts[0].values == {"news2": 5, "previous": 3, "threshold": 5}
    assert rising.news2_trend == (0, 3, 5)
    assert monitor.feed(_v(rr=22, hr=95, spo2=93)).alerts == ()  # still 5: told already
    worse = monitor.feed(_v(rr=22, hr=112, spo2=93, temp_c=38.5))  # 2 + 2 + 2 + 1 = 7
    assert [a.reason for a in worse.alerts] == ["news2_emergency"]


def test_a_new_red_parameter_alerts() -> None:
    monitor = VitalsMonitor()
    monitor.feed(_v())
    alert = monitor.feed(_v(bp_sys=88)).alerts
    assert [a.reason for a in alert] == ["news2_red_parameter"]
    assert alert[0].values["parameters"] == ["systolic_bp"]


def test_shock_index_rising_past_one_alerts() -> None:
    monitor = VitalsMonitor()
    for hr, sbp in ((90, 120), (100, 115), (105, 112)):
        assert not [
            a for a in monitor.feed(_v(hr=hr, bp_sys=sbp)).alerts if a.reason.startswith("shock")
        ]
    codes = [a.reason for a in monitor.feed(_v(hr=115, bp_sys=111)).alerts]  # 1.04
    assert "shock_index_rising" in codes
    # A high but steady shock index is not news at every reading.
    steady = monitor.feed(_v(hr=115, bp_sys=111))
    assert "shock_index_rising" not in [a.reason for a in steady.alerts]
    assert steady.as_dict()["shock_index"] == 1.04
    assert steady.as_dict()["label"].startswith("decision support")
