"""The tablet's in-memory queue of records: exactly-once delivery across reconnects."""

from __future__ import annotations

import pytest

from ambulance_client.outbox import Outbox
from ems_contracts.frames import Kind, decode_frame


def test_records_stay_until_acknowledged_and_go_again_after_a_reconnect() -> None:
    box = Outbox(7, first_seq=100)
    seqs = [box.put(Kind.VITALS, b"{}") for _ in range(3)]
    assert seqs == [100, 101, 102]
    for entry in box.unsent():
        box.mark_sent(entry.frame.seq)
    assert box.unsent() == [] and box.in_flight == 3
    box.ack([100])
    box.reconnected()  # the link dropped before 101 and 102 were acknowledged
    again = [decode_frame(e.raw) for e in box.unsent()]
    assert [(f.seq, f.transport_id) for f in again] == [(101, 7), (102, 7)]
    assert box.ack([101, 102, 102]) == 2
    assert len(box) == 0 and box.acked == 3


def test_sequence_numbers_never_repeat_after_a_tablet_restart() -> None:
    first = Outbox(7)
    a = first.put(Kind.ECG, b"x")
    second = Outbox(7)  # a restarted app
    assert second.put(Kind.ECG, b"x") > a


def test_a_rejected_record_is_not_sent_forever() -> None:
    box = Outbox(7, first_seq=1)
    box.put(Kind.VITALS, b"bad")
    box.reject(1)
    assert len(box) == 0 and box.rejected == 1


def test_a_very_long_outage_gives_up_ecg_before_vitals() -> None:
    box = Outbox(7, max_items=3, first_seq=1)
    box.put(Kind.VITALS, b"v")
    box.put(Kind.ECG, b"e")
    box.put(Kind.VITALS, b"v")
    box.put(Kind.VITALS, b"v")
    assert [e.frame.kind for e in box.unsent()] == [Kind.VITALS] * 3
    assert box.evicted == 1


def test_video_does_not_go_through_the_outbox() -> None:
    with pytest.raises(ValueError):
        Outbox(7).put(Kind.VIDEO_H264, b"")


def test_records_refused_for_good_are_reported_not_sent_again() -> None:
    box = Outbox(7, first_seq=500)
    ecg, vitals, note = (
        box.put(Kind.ECG, b"x", 1),
        box.put(Kind.VITALS, b"{}", 2),
        box.put(Kind.EVENT, b"{}", 3),
    )
    box.fail(ecg, "record_grace_expired")
    assert [e.frame.seq for e in box.unsent()] == [vitals, note]
    assert box.fail_all("record_grace_expired") == 2
    box.reconnected()
    assert box.unsent() == [] and len(box) == 0
    assert [(f.seq, f.kind, f.capture_us) for f in box.failed] == [
        (ecg, Kind.ECG, 1),
        (vitals, Kind.VITALS, 2),
        (note, Kind.EVENT, 3),
    ]
