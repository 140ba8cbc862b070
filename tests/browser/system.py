"""A whole running system for browser tests and screenshots: the server (werkzeug,
threaded, in this process), the stream relay (its own process), the tablet's local
service (in this process), a seeded SQLite database of the demo region, one issued
My Number card (SoftHSM2) and the tablet's device key. Everything is synthetic and
listens on loopback only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from werkzeug.serving import BaseWSGIServer, make_server

ROOT = Path(__file__).resolve().parents[2]
REGION = ROOT / "ems" / "regions" / "demo" / "region.json"
PASSWORD = "demo-pass-2026"
CARD_PIN = "1234"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tls_context(url: str) -> ssl.SSLContext | None:
    """A fresh context for https (urllib's default opener keeps the first one it made,
    which would not see a test CA trusted later through SSL_CERT_FILE)."""
    return ssl.create_default_context() if url.startswith("https:") else None


def wait_http(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=tls_context(url)):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@dataclass
class Seeded:
    hospital_ids: dict[str, int] = field(default_factory=dict)  # region key → id
    unit_ids: list[int] = field(default_factory=list)
    paramedic_unit_id: int = 0
    er_hospital_id: int = 0
    card_serial: str = ""
    device_dir: str = ""
    card_store: str = ""


def seed(db_url: str, config: Any, *, with_card: bool = True) -> Seeded:
    """Hospitals, stations, units and staff of the demo region; one card and device key."""
    from ems.auth.models import Role
    from ems.auth.service import create_user
    from ems.db import Database
    from ems.fleet.models import Station, Unit
    from ems.hospitals.models import BedAvailability, BedCategory, EmergencyLevel, Hospital

    region = json.loads(REGION.read_text(encoding="utf-8"))
    out = Seeded()
    database = Database(db_url)
    now = dt.datetime.now(dt.UTC)
    with database.session_scope() as s:
        for i, h in enumerate(region["hospitals"]):
            hosp = Hospital(
                name=h["name"],
                name_en=h.get("name_en", ""),
                lat=h["lat"],
                lon=h["lon"],
                level=EmergencyLevel(h["level"]),
                capabilities=list(h.get("capabilities", [])),
            )
            s.add(hosp)
            s.flush()
            out.hospital_ids[h["key"]] = hosp.id
            for cat, capacity in h.get("beds", {}).items():
                # One figure left to expire, so that the pages show what stale looks like.
                expired = i == 2 and cat == "general"
                s.add(
                    BedAvailability(
                        hospital_id=hosp.id,
                        category=BedCategory(cat),
                        # Nearly free, a little less for some: the ER signed in keeps
                        # two beds in every category, one for each language's flow.
                        available=max(0, capacity - (i % 3)),
                        capacity=capacity,
                        updated_at=now - dt.timedelta(minutes=95 if expired else 10),
                        expires_at=now + dt.timedelta(minutes=-5 if expired else 50),
                    )
                )
        for st in region["stations"]:
            station = Station(
                name=st["name"], name_en=st.get("name_en", ""), lat=st["lat"], lon=st["lon"]
            )
            s.add(station)
            s.flush()
            for j, call_sign in enumerate(st["units"]):
                unit = Unit(
                    call_sign=call_sign,
                    station_id=station.id,
                    lat=st["lat"] + 0.002 * j,
                    lon=st["lon"] + 0.003 * j,
                    crew=["隊長", "機関員", "救急救命士"],
                )
                s.add(unit)
                s.flush()
                out.unit_ids.append(unit.id)
        out.paramedic_unit_id = out.unit_ids[0]
        # The ER signed in is the tertiary centre of the crew's own town (the demo keeps
        # the same one for people).
        out.er_hospital_id = out.hospital_ids["midori-central"]
        _history_today(s, out, now)
        create_user(
            session=s,
            username="dispatcher",
            password=PASSWORD,
            role=Role.DISPATCHER,
            display_name="指令員 佐藤",
        )
        create_user(
            session=s,
            username="er",
            password=PASSWORD,
            role=Role.ER_STAFF,
            hospital_id=out.er_hospital_id,
            display_name="救急医 高橋",
        )
        for k, hid in enumerate(out.hospital_ids.values()):
            create_user(
                session=s,
                username=f"er{k + 1}",
                password=PASSWORD,
                role=Role.ER_STAFF,
                hospital_id=hid,
            )
        create_user(
            session=s,
            username="medic",
            password=PASSWORD,
            role=Role.PARAMEDIC,
            unit_id=out.paramedic_unit_id,
            display_name="救急救命士 田中",
        )
        # The medical-control doctor on duty at the region's base hospital (no roster:
        # every MC doctor on duty answers for every unit).
        create_user(
            session=s,
            username="mc",
            password=PASSWORD,
            role=Role.MC_DOCTOR,
            hospital_id=out.er_hospital_id,
            display_name="MC医 山本",
        )
    if with_card:
        _issue_card(database, config, out)
    database.engine.dispose()
    return out


# Minutes per FDMA interval of today's completed runs: call→dispatch, →scene, →contact,
# →loaded, →departed, →hospital, →handover.
_TODAY = (
    (1.5, 9.0, 2.0, 11.0, 3.5, 17.0, 5.0),
    (1.0, 7.5, 1.5, 9.0, 2.5, 13.0, 4.0),
    (2.0, 12.0, 2.5, 14.0, 5.0, 24.0, 6.0),
    (1.2, 8.0, 1.8, 10.5, 3.0, 15.5, 4.5),
    (1.8, 10.5, 2.2, 12.0, 4.5, 21.0, 5.5),
    (0.8, 6.5, 1.0, 8.5, 2.0, 11.0, 3.5),
)


def _history_today(s: Any, out: Seeded, now: dt.datetime) -> None:
    """Completed runs of the last hours, so that the KPI panel has figures."""
    from ems.incidents.models import Incident, IncidentStatus, Urgency
    from ems.transports.models import TIMELINE, Transport, TransportStatus

    hospitals = list(out.hospital_ids.values())
    for k, minutes in enumerate(_TODAY):
        start = now - dt.timedelta(minutes=30 + 25 * k + sum(minutes))
        inc = Incident(
            received_at=start,
            lat=35.45,
            lon=133.9,
            address="みどり県内",
            chief_complaint=("腹痛", "転倒", "呼吸苦", "胸痛", "発熱", "めまい")[k],
            urgency=(Urgency.MODERATE, Urgency.MINOR, Urgency.SERIOUS)[k % 3],
            status=IncidentStatus.CLOSED,
        )
        s.add(inc)
        s.flush()
        stamps = [start]
        for m in minutes:
            stamps.append(stamps[-1] + dt.timedelta(minutes=m))
        tr = Transport(
            incident_id=inc.id,
            unit_id=out.unit_ids[(k + 2) % len(out.unit_ids)],
            destination_hospital_id=hospitals[k % len(hospitals)],
            bed_category="general",
            status=TransportStatus.COMPLETED,
            **{column: stamps[i] for i, (_, column) in enumerate(TIMELINE)},
        )
        s.add(tr)
    s.flush()


def _issue_card(database: Any, config: Any, out: Seeded) -> None:
    """The mock issuer, beside the server's files, mints the card and the tablet's key
    and publishes its certificates and CRLs into the server's PKI_DIR."""
    from card_issuer import service as issuance
    from card_issuer.ca import Issuer
    from card_issuer.tokens import CardStore
    from ems.cards.demo import demo_bundles
    from ems.patients import service
    from ems.patients.records import RecordCipher

    pki_dir = Path(config.PKI_DIR)
    issuer = Issuer(pki_dir.parent / "issuer")
    issuer.init()
    issuer.publish(pki_dir)
    store = CardStore(pki_dir.parent / "cards", so_pin_file=issuer.so_pin_path)
    cipher = RecordCipher(config.RECORD_ENCRYPTION_KEY)
    with database.session_scope() as s:
        patient = service.create_patient(session=s, cipher=cipher, bundle=demo_bundles()[0])
        card = issuance.issue_card(
            session=s, issuer=issuer, store=store, patient_id=patient.id, pin=CARD_PIN
        )
        device_dir = pki_dir.parent / "devices" / f"unit-{out.paramedic_unit_id}"
        issuance.issue_device(
            session=s,
            issuer=issuer,
            unit_id=out.paramedic_unit_id,
            name="tablet-e2e",
            out_dir=str(device_dir),
        )
        out.card_serial = card.serial
    out.device_dir = str(device_dir)
    out.card_store = str(store.directory)


class ThreadServer:
    def __init__(self, app: Any, port: int) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@dataclass
class System:
    server_url: str
    tablet_url: str
    relay_url: str
    seeded: Seeded
    app: Any
    tablet: Any
    net: Any
    # The server's own port, behind any front.
    server_port: int = 0


class NetCut:
    """A TCP forwarder between the tablet and the server that can be cut, to take the
    ambulance out of coverage for real (connections refused and dropped)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class Front(Protocol):
    """A proxy in front of the server and the relay (tests/tls/front.py): clients see
    its addresses only; it starts once the server's PKI directory is filled."""

    server_url: str
    relay_url: str

    def running(
        self, server_port: int, relay_port: int, pki_dir: Path
    ) -> contextlib.AbstractContextManager[None]: ...


@contextlib.contextmanager
def running_system(
    workdir: Path | None = None, *, front: Front | None = None, roads: bool = False
) -> Iterator[System]:
    """``roads``: build the demo region's Valhalla tiles first, so that every ETA is a
    road time (the screenshots); the tests do without, on straight-line estimates."""
    from ambulance_client.agent import TabletService
    from ambulance_client.card_port import CardSettings
    from ambulance_client.stream_port import StreamSettings
    from ambulance_client.web import create_agent_app
    from ems.app import create_app
    from ems.cli import upgrade_database
    from ems.config import Config

    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ems-web-")))
        db_url = f"sqlite:///{workdir / 'ems.sqlite3'}"
        server_port, relay_port, tablet_port = free_port(), free_port(), free_port()
        relay_url = f"ws://127.0.0.1:{relay_port}"
        server_url = f"http://127.0.0.1:{server_port}"
        if front is not None:
            server_url, relay_url = front.server_url, front.relay_url
        overrides = {
            "ENV": "development",
            "DATABASE_URL": db_url,
            "PKI_DIR": str(workdir / "pki"),
            "REGION_DIR": str(workdir / "region"),
            "RELAY_URL": relay_url,
            "LOGIN_RATE_PER_MIN": 1000,
            "LOG_LEVEL": "WARNING",
        }
        config = Config.from_env(dict(overrides))
        if roads:
            from ems.dispatch.region import build_region, load_region, region_dir

            build_region(load_region("demo"), region_dir(config.REGION_DIR, "demo"))
        upgrade_database(db_url)
        seeded = seed(db_url, config)
        if front is not None:
            stack.enter_context(front.running(server_port, relay_port, workdir / "pki"))

        app = create_app(config)
        server = ThreadServer(app, server_port)
        stack.callback(server.close)
        wait_http(f"{server_url}/healthz")

        env = {
            **os.environ,
            "EMS_DATABASE_URL": db_url,
            "EMS_RECORD_ENCRYPTION_KEY": config.RECORD_ENCRYPTION_KEY,
            "EMS_SECRET_KEY": config.SECRET_KEY,
            "EMS_LOG_LEVEL": "WARNING",
            "EMS_REDIS_URL": "",
        }
        relay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hospital_gateway.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(relay_port),
            ],
            env=env,
            cwd=ROOT,
        )

        def stop_relay() -> None:
            relay.terminate()
            try:
                relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                relay.kill()

        stack.callback(stop_relay)
        wait_http(f"http://127.0.0.1:{relay_port}/healthz")

        api = urllib.parse.urlsplit(server_url)
        net = NetCut(api.port or server_port)
        stack.callback(net.close)
        tablet = TabletService(
            server_url=f"{api.scheme}://127.0.0.1:{net.port}",
            relay_url=relay_url,
            card=CardSettings(
                token_label=seeded.card_serial,
                softhsm_conf=str(Path(seeded.card_store) / "softhsm2.conf"),
                device_dir=seeded.device_dir,
            ),
            stream=StreamSettings(relay_url=relay_url, width=480, height=270, fps=10),
            probe_interval_s=0.5,
        )
        tablet.start()
        stack.callback(tablet.close)
        tablet_server = ThreadServer(create_agent_app(tablet), tablet_port)
        stack.callback(tablet_server.close)
        tablet_url = f"http://127.0.0.1:{tablet_port}"
        wait_http(f"{tablet_url}/healthz")
        yield System(server_url, tablet_url, relay_url, seeded, app, tablet, net, server_port)


def launch_browser(playwright: Any, *extra_args: str) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True
    )
