"""Prometheus metrics of the relay at ``GET /metrics``: active streams (transports
with a publisher connected), viewers, rooms and records stored. Read from the
relay's state at scrape time, in a registry of their own."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

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

    def render(self, relay: Any) -> bytes:
        self.active_streams.set(len(relay.publishers))
        self.viewers.set(len(relay.viewers))
        self.rooms.set(len(relay.registry.rooms))
        self.records.set(relay.stored)
        return generate_latest(self.registry)
