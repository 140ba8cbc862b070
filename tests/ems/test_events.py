"""Live events: each stream is fed only what its holder may see, serialised once."""

from __future__ import annotations

import queue

import pytest

from ems.events import Audience, CloseReason, Event, LocalBroker, StreamSlots, sse_stream


def _drain(q: queue.Queue[Event]) -> list[str]:
    out = []
    while not q.empty():
        out.append(q.get_nowait().type)
    return out


def test_a_stream_is_fed_only_the_events_its_holder_may_see() -> None:
    broker = LocalBroker()
    er_1 = broker.subscribe(Audience("er_staff", hospital_id=1))
    crew_7 = broker.subscribe(Audience("paramedic", unit_id=7))
    dispatcher = broker.subscribe(Audience("dispatcher"))
    everything = broker.subscribe()
    crew_roles = ("dispatcher", "paramedic", "admin")
    broker.publish(Event("unit.updated", {"id": 7}, roles=crew_roles, unit_id=7))
    broker.publish(Event("unit.updated", {"id": 8}, roles=crew_roles, unit_id=8))
    for transport, unit, hospital in ((3, 7, 1), (4, 8, 2)):
        broker.publish(
            Event(
                "transport.updated",
                {"id": transport},
                roles=(*crew_roles, "er_staff"),
                unit_id=unit,
                hospital_id=hospital,
            )
        )
    assert _drain(er_1) == ["transport.updated"]
    assert _drain(crew_7) == ["unit.updated", "transport.updated"]
    assert _drain(dispatcher) == ["unit.updated"] * 2 + ["transport.updated"] * 2
    assert len(_drain(everything)) == 4


def test_the_sse_text_is_the_event_and_its_data() -> None:
    event = Event("hospital.updated", {"name": "県立中央病院", "beds": 3})
    assert event.sse == 'event: hospital.updated\ndata: {"name": "県立中央病院", "beds": 3}\n\n'
    assert event.sse is event.sse  # serialised once, whatever the number of pages


def test_sse_stream_subscribes_with_its_audience(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        broker = app.extensions["ems_events"]
        stream = sse_stream(role="er_staff", unit_id=None, hospital_id=5, heartbeat_s=0.05)
        assert next(stream) == "retry: 2000\n\n"
        broker.publish(Event("unit.updated", {"id": 1}, roles=("dispatcher",)))
        broker.publish(Event("transport.updated", {"id": 2}, roles=("er_staff",), hospital_id=5))
        assert next(stream).startswith("event: transport.updated\n")
        assert next(stream) == ": keep-alive\n\n"
        stream.close()
        assert broker.subscribers == {}


def test_sse_stream_ends_with_the_reason_and_gives_its_slot_back(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        slots = StreamSlots(per_user=1, per_process=1)
        answers = iter([None, CloseReason.ACCESS_CHANGED])
        stream = sse_stream(
            role="dispatcher",
            unit_id=None,
            hospital_id=None,
            heartbeat_s=60,
            recheck=lambda: next(answers),
            recheck_s=0.02,
            slot=slots.take(1),
        )
        assert list(stream) == [
            "retry: 2000\n\n",
            'event: stream.closed\ndata: {"code": "access_changed"}\n\n',
        ]
        assert slots.open_streams() == 0
        assert app.extensions["ems_events"].subscribers == {}


def test_a_failing_check_still_gives_the_slot_back(app) -> None:  # type: ignore[no-untyped-def]
    def broken() -> CloseReason | None:
        raise RuntimeError("the check broke")

    with app.app_context():
        slots = StreamSlots(per_user=1, per_process=1)
        stream = sse_stream(
            role="dispatcher",
            unit_id=None,
            hospital_id=None,
            recheck=broken,
            recheck_s=0.01,
            slot=slots.take(1),
        )
        assert next(stream).startswith("retry:")
        with pytest.raises(RuntimeError):
            next(stream)
        assert slots.open_streams() == 0
