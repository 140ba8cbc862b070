"""Prometheus metrics of the relay at ``GET /metrics``: active streams (transports
with a publisher connected), viewers, rooms and records stored, read from the
relay's state at scrape time; and the patient analysis' results and the windows it
dropped for falling behind, counted as they happen. In a registry of their own."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.active_streams = Gauge(
            "ems_relay_active_streams",
            "Transports streaming now (a publisher connected)",
            registry=self.registry,
        )
        self.viewers = Gauge(
            "ems_relay_viewers", "Viewers connected to this relay", registry=self.registry
        )
        self.rooms = Gauge("ems_relay_rooms", "Streams with anyone in them", registry=self.registry)
        self.records = Gauge(
            "ems_relay_records_stored",
            "Vitals, ECG and notes stored since the relay started",
            registry=self.registry,
        )
        self.analyses = Counter(
            "ems_relay_analyses",
            "Patient analysis messages sent (ECG rhythm, NEWS2, shock index)",
            registry=self.registry,
        )
        self.analysis_dropped = Counter(
            "ems_relay_analysis_dropped",
            "Pending analysis input dropped because the analysis fell behind "
            "(kind: ecg windows, vitals readings)",
            ["kind"],
            registry=self.registry,
        )

    def render(self, relay: Any) -> bytes:
        self.active_streams.set(len(relay.publishers))
        self.viewers.set(len(relay.viewers))
        self.rooms.set(len(relay.registry.rooms))
        self.records.set(relay.stored)
        return generate_latest(self.registry)
