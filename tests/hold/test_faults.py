"""The fault runs of ``bench/faults.py``, shortened: the relay killed mid-stream,
PostgreSQL restarted under writes (on a throwaway cluster of its own), and a
tablet's network cut for a few seconds. Each checks what a user would notice: the
stream comes back by itself, and no timeline event, vital sign or ECG segment is
lost or stored twice. How fast they come back is measured by ``bench/faults.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from bench.faults import (
    Rig,
    ThrowawayCluster,
    network_cut,
    postgres_restart,
    relay_kill,
    rig,
)
from simulation.procs import free_port


@pytest.fixture
def system() -> Iterator[Rig]:
    with rig(workers=1, units=4) as r:
        yield r


def test_a_killed_relay_is_back_for_publisher_and_viewers_with_every_record(
    system: Rig,
) -> None:
    result = asyncio.run(relay_kill(system, warmup_s=1.0))
    assert result["active_streams_gauge"] == 1.0  # the relay's /metrics saw the stream
    assert result["all_back"], result
    assert result["records_produced"] > 0
    assert result["records_lost"] == 0
    assert result["records_duplicated"] == 0


def test_a_tablet_cut_off_delivers_its_queue_exactly_once(system: Rig) -> None:
    result = asyncio.run(network_cut(system, cut_s=3.0))
    assert result["events_queued_offline"] > 0 and result["records_queued_offline"] > 0
    assert result["events_lost"] == 0 and result["events_duplicated"] == 0
    assert result["records_lost"] == 0 and result["records_duplicated"] == 0


@pytest.mark.skipif(
    not ThrowawayCluster.available() or os.geteuid() != 0,
    reason="needs pg_createcluster and root to make a throwaway PostgreSQL cluster",
)
def test_postgres_restart_loses_and_duplicates_nothing() -> None:
    cluster = ThrowawayCluster(name=f"ems_faults_{os.getpid()}", port=free_port())
    try:
        url = cluster.create()
        with rig(url, workers=2, units=6) as r:
            result = asyncio.run(postgres_restart(r, cluster, crews=4))
    finally:
        cluster.drop()
    assert result["api_recovered_after_pg_s"] is not None, result
    assert result["events_queued"] == 4 * 6
    assert result["events_lost"] == 0 and result["events_duplicated"] == 0
    assert result["records_lost"] == 0 and result["records_duplicated"] == 0
