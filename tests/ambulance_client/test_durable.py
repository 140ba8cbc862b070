"""The tablet's outbox on disk: sealed, holding only what is queued, and replayed once
after the agent is killed in the middle of an outage."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ambulance_client.durable import DB_NAME, KEY_NAME, DurableStore
from ambulance_client.outbox import Outbox
from ambulance_client.timeline_outbox import TimelineOutbox
from ems_contracts.frames import Kind
from tests.ambulance_client.test_agent import FakeServer


def _on_disk(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state.iterdir() if p.name.startswith(DB_NAME))


def test_the_key_is_the_agents_own_and_nothing_is_stored_in_clear(tmp_path: Path) -> None:
    store = DurableStore(tmp_path / "state")
    outbox = TimelineOutbox(store)
    outbox.add(transport_id=7, kind="patient_contact", token="secret-crew-token")
    records = Outbox(7, store=store)
    records.put(Kind.VITALS, b'{"spo2": 93, "note": "chest-pain-marker"}')

    key = tmp_path / "state" / KEY_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    raw = _on_disk(tmp_path / "state")
    for clear in (b"patient_contact", b"chest-pain-marker", b"secret-crew-token"):
        assert clear not in raw
    store.close()


def test_queued_events_come_back_with_their_keys_and_leave_once_sent(tmp_path: Path) -> None:
    server = FakeServer()
    server.reachable = False
    first = TimelineOutbox(DurableStore(tmp_path))
    a = first.add(transport_id=7, kind="arrived_scene", token="t")
    b = first.add(transport_id=7, kind="patient_contact", token="t")
    assert first.flush(server) == {}

    again = TimelineOutbox(DurableStore(tmp_path))  # the agent restarted
    assert [(e["key"], e["at"]) for e in again.pending()] == [(a.key, a.at), (b.key, b.at)]
    server.reachable = True
    assert again.flush(server) == {}  # no crew token at hand yet: they wait
    done = again.flush(server, fallback_token="new-crew")
    assert list(done) == [a.key, b.key]
    assert len(TimelineOutbox(DurableStore(tmp_path))) == 0


def test_queued_records_keep_their_sequence_numbers_across_a_restart(tmp_path: Path) -> None:
    first = Outbox(7, store=DurableStore(tmp_path))
    seqs = [first.put(Kind.VITALS, f'{{"hr": {i}}}'.encode()) for i in range(3)]
    first.ack(seqs[0])

    again = Outbox(7, store=DurableStore(tmp_path))
    assert [e.frame.seq for e in again.unsent()] == seqs[1:]
    assert again.unsent()[0].raw == first.unsent()[0].raw
    assert again.put(Kind.VITALS, b"{}") > seqs[-1]  # never a number already used
    assert len(Outbox(8, store=DurableStore(tmp_path))) == 0  # another transport's own


def test_a_tap_on_a_hanging_link_does_not_wait_for_another_flush(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    class Hanging(FakeServer):
        def call(self, method: str, path: str, **kw: Any) -> Any:
            release.wait(10)
            return super().call(method, path, **kw)

    server = Hanging()
    outbox = TimelineOutbox(DurableStore(tmp_path))
    outbox.add(transport_id=7, kind="arrived_scene", token="t")
    flusher = threading.Thread(target=outbox.flush, args=(server,))
    flusher.start()
    time.sleep(0.1)
    started = time.monotonic()
    outbox.add(transport_id=7, kind="patient_contact", token="t")
    assert outbox.flush(server) == {}
    assert len(outbox.pending()) == 2
    assert time.monotonic() - started < 0.5
    release.set()
    flusher.join(5)
    assert len(outbox) == 0  # the running flush took the new tap along


# --- the drill: SIGKILL during an outage --------------------------------------------------


@pytest.fixture
def rig() -> Iterator[Any]:
    from bench.faults import rig

    with rig(workers=1, units=2) as r:
        yield r


def test_an_agent_killed_during_an_outage_delivers_every_event_and_vital_once(
    rig: Any, tmp_path: Path
) -> None:
    """Network cut (server and relay); the crew taps 4 steps, asks medical control once,
    and the monitor queues vitals and ECG; SIGKILL; the agent restarts on the same
    --state-dir and shows it all as queued; after reconnection everything lands once."""
    from bench.outbox_drill import outbox_drill

    result = outbox_drill(rig, events=4, vitals=6, vitals_every_s=0.2, workdir=tmp_path)
    assert result["queued_events"] == 4
    assert result["queued_vitals"] >= 6 and result["queued_ecg"] > 0
    assert result["queued_requests"] == 1
    # Shown as queued by the restarted agent before the network came back.
    assert result["shown_after_restart"] == {
        "events": 4,
        "records": result["queued_vitals"] + result["queued_ecg"],
        "requests": 1,
    }
    assert result["delivered_events"] == 4
    assert result["delivered_vitals"] == result["queued_vitals"]
    assert result["delivered_ecg"] == result["queued_ecg"]
    assert result["delivered_requests"] == 1
    assert result["lost"] == 0 and result["duplicates"] == 0, result
    assert (tmp_path / "state" / DB_NAME).exists()  # the outbox stayed where it was told


def test_a_stream_keeps_the_durable_outbox_it_was_given(tmp_path: Path) -> None:
    from ambulance_client.streamer import StreamConfig, Streamer

    store = DurableStore(tmp_path)
    outbox = Outbox(7, store=store)  # empty, hence falsy: it must still be the one used
    streamer = Streamer(
        StreamConfig(relay_url="ws://relay.invalid", token="t", transport_id=7), outbox=outbox
    )
    assert streamer.outbox is outbox
    streamer.add_record(Kind.VITALS, b'{"hr": 80}')
    assert store.record_counts() == {7: 1}


def test_records_on_disk_show_as_pending_and_wait_for_a_crew_token(tmp_path: Path) -> None:
    from ambulance_client.agent import TabletService

    first = Outbox(7, store=DurableStore(tmp_path))
    for i in range(3):
        first.put(Kind.VITALS, f'{{"hr": {80 + i}}}'.encode())
    service = TabletService(
        server_url="http://127.0.0.1:9", relay_url="ws://127.0.0.1:9", state_dir=tmp_path
    )
    try:
        status = service.status()
        assert status["records_queued"] == 3
        assert status["records_pending"] == [{"transport_id": 7, "queued": 3, "sending": False}]
        assert service.resume_records() == []  # nobody signed in: nothing to send them with
        service.signed_in("crew")
        assert service.resume_records() == [7]
        assert service.resume_records() == []  # one drain per transport
        assert service.status()["records_pending"][0]["sending"] is True
    finally:
        service.close()
