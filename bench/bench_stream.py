"""Live stream figures on loopback: a relay process, a tablet process streaming the
synthetic 720p15 picture through libx264, and Python viewers in this process.

- glass_to_glass_ms_p50/p95: capture timestamp → picture decoded at a viewer
- stream_720p15_kbps: the H.264 stream's bandwidth as the viewer receives it
- relay_viewers_per_core: viewers of one 720p15 stream one relay process serves
  per core of CPU (measured with 40 viewers, extrapolated linearly)
- fast_viewer_ms_p95_with_slow_viewer: the fast viewer's p95 while another
  viewer is throttled to 100 kbit/s (compare with glass_to_glass_ms_p95)

Bounded to well under two minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

from ambulance_client.encoder import H264Decoder
from ems_contracts.control import Hello
from ems_contracts.frames import Kind, decode_frame

WARMUP_S = 3.0
PHASE_S = 10.0
VIEWERS = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _setup_database(url: str, *, viewer: str = "er") -> dict[str, object]:
    """A migrated database with one unit's transport, its paramedic and one viewer,
    with bearer tokens. ``viewer="er"``: staff of the destination hospital (the
    stream's audience). ``viewer="doctor"``: the MC doctor of a base hospital, after
    the crew asked for an instruction (the voice line's other end)."""
    from ems.auth.models import Role, User
    from ems.auth.service import issue_token
    from ems.cli import upgrade_database
    from ems.db import Database, utcnow
    from ems.fleet.models import Station, Unit
    from ems.hospitals.models import EmergencyLevel, Hospital
    from ems.incidents.models import Incident, Urgency
    from ems.instructions.models import InstructionRequest
    from ems.transports.models import Transport

    doctor = viewer == "doctor"
    upgrade_database(url)
    db = Database(url)
    with db.session_scope() as s:
        h = Hospital(
            name="ベンチ基幹病院" if doctor else "ベンチ病院",
            lat=35.0,
            lon=135.0,
            level=EmergencyLevel.TERTIARY if doctor else EmergencyLevel.SECONDARY,
        )
        st = Station(name="ベンチ署", lat=35.0, lon=135.0)
        s.add_all([h, st])
        s.flush()
        u = Unit(call_sign="ベンチ1", station_id=st.id, lat=35.0, lon=135.0)
        s.add(u)
        s.flush()
        urgency = Urgency.CRITICAL if doctor else Urgency.SERIOUS
        inc = Incident(lat=35.0, lon=135.0, chief_complaint="bench", urgency=urgency)
        s.add(inc)
        s.flush()
        t = Transport(
            incident_id=inc.id,
            unit_id=u.id,
            destination_hospital_id=None if doctor else h.id,
            call_received_at=utcnow(),
        )
        medic = User(username="bench_medic", password_hash="!", role=Role.PARAMEDIC, unit_id=u.id)
        other = User(
            username="bench_mc" if doctor else "bench_er",
            password_hash="!",
            role=Role.MC_DOCTOR if doctor else Role.ER_STAFF,
            hospital_id=h.id,
        )
        s.add_all([t, medic, other])
        s.flush()
        if doctor:
            # The crew asked: the MC doctors on duty may join the transport's voice line.
            s.add(
                InstructionRequest(
                    transport_id=t.id, unit_id=u.id, procedure="adrenaline", requested_by=medic.id
                )
            )
        out = {
            "transport_id": t.id,
            "medic": issue_token(session=s, user=medic, ttl_s=3600)[0],
            viewer: issue_token(session=s, user=other, ttl_s=3600)[0],
        }
    db.engine.dispose()
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_healthy(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("the relay did not start")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def _decoding_viewer(
    url: str, token: str, seconds: float, latencies: list[float], sizes: list[int]
) -> None:
    """A viewer that decodes every H.264 frame and notes capture → decoded."""
    decoder = H264Decoder()
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    async with connect(url, compression=None, max_size=2**21) as ws:
        await ws.send(Hello(token=token).to_json())
        while time.monotonic() - start < seconds:
            try:
                message = await asyncio.wait_for(ws.recv(), 2.0)
            except TimeoutError:
                continue
            if isinstance(message, str):
                continue
            frame = decode_frame(message)
            if frame.kind is not Kind.VIDEO_H264:
                continue
            pictures = await loop.run_in_executor(None, decoder.decode, frame.payload)
            if pictures and time.monotonic() - start > WARMUP_S:
                latencies.append((time.time_ns() // 1000 - frame.capture_us) / 1000)
                sizes.append(len(frame.payload))


async def _counting_viewer(url: str, token: str, stop: asyncio.Event, counts: list[int]) -> None:
    index = len(counts)
    counts.append(0)
    async with connect(url, compression=None, max_size=2**21) as ws:
        await ws.send(Hello(token=token).to_json())
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                counts[index] += 1


async def _throttled_viewer(url: str, token: str, stop: asyncio.Event, kbps: float) -> None:
    """A viewer on a 100 kbit/s link: a small receive buffer and paced reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    host_port = url.split("/")[2]
    host, port = host_port.split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    async with connect(url, sock=sock, compression=None, max_size=2**21, max_queue=1) as ws:
        await ws.send(Hello(token=token).to_json())
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            await asyncio.sleep(len(message) * 8 / (kbps * 1000))


async def _measure(port: int, info: dict[str, object], relay_pid: int) -> dict[str, float]:
    url = f"ws://127.0.0.1:{port}/v1/transports/{info['transport_id']}/view"
    token = str(info["er"])
    # 1. One decoding viewer alone.
    alone: list[float] = []
    sizes: list[int] = []
    await _decoding_viewer(url, token, WARMUP_S + PHASE_S, alone, sizes)
    kbps = sum(sizes) * 8 / 1000 / PHASE_S
    # 2. The same with a viewer throttled to 100 kbit/s beside it.
    stop = asyncio.Event()
    slow = asyncio.create_task(_throttled_viewer(url, token, stop, 100))
    with_slow: list[float] = []
    await _decoding_viewer(url, token, WARMUP_S + PHASE_S, with_slow, [])
    stop.set()
    await slow
    # 3. Many viewers: the relay's CPU per viewer.
    stop = asyncio.Event()
    counts: list[int] = []
    tasks = [
        asyncio.create_task(_counting_viewer(url, token, stop, counts)) for _ in range(VIEWERS)
    ]
    await asyncio.sleep(2.0)
    cpu0, t0 = _cpu_seconds(relay_pid), time.monotonic()
    before = sum(counts)
    await asyncio.sleep(PHASE_S / 2)
    cpu1, t1 = _cpu_seconds(relay_pid), time.monotonic()
    delivered = sum(counts) - before
    stop.set()
    await asyncio.gather(*tasks)
    core_share = max((cpu1 - cpu0) / (t1 - t0), 1e-3)
    fps_per_viewer = delivered / VIEWERS / (t1 - t0)
    return {
        "glass_to_glass_ms_p50": round(statistics.median(alone), 1),
        "glass_to_glass_ms_p95": round(_pct(alone, 0.95), 1),
        "stream_720p15_kbps": round(kbps, 1),
        "relay_viewers_per_core": round(VIEWERS / core_share),
        "relay_fps_per_viewer_at_40": round(fps_per_viewer, 1),
        "fast_viewer_ms_p95_with_slow_viewer": round(_pct(with_slow, 0.95), 1),
    }


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench_stream_") as tmp:
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        info = _setup_database(db_url)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PKI_DIR": f"{tmp}/pki",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        relay = subprocess.Popen(
            [sys.executable, "-m", "hospital_gateway.server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        tablet = None
        try:
            _wait_healthy(port)
            tablet = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from ambulance_client.cli import main; main()",
                    "stream",
                    "--server",
                    "http://127.0.0.1:9",
                    "--relay",
                    f"ws://127.0.0.1:{port}",
                    "--token",
                    str(info["medic"]),
                    "--transport",
                    str(info["transport_id"]),
                    "--source",
                    "synthetic",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return asyncio.run(_measure(port, info, relay.pid))
        finally:
            for proc in (tablet, relay):
                if proc is not None:
                    proc.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(10)
                    if proc.poll() is None:
                        proc.kill()


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value}")
