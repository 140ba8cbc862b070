"""The relay core: a thin asyncio adapter (``websockets``) around the pure room
registry and fan-out policy of ``hospital_gateway.protocol``, speaking the frames
and control messages of ``ems_contracts``.

``Relay`` owns the connections: it authenticates each one (``Authorization:
Bearer <token>`` or, from a browser, a first ``{"type": "hello", "token": "…"}``
message) through ``hospital_gateway.access``, keeps the publishers and viewers of
each transport's room, fans frames out (and across relays through
``hospital_gateway.redis_bus``), sends feedback to publishers, and re-checks
viewers' rights every few seconds and at once when the API announces a
transport change, cutting those who lost them. Records pass through
``hospital_gateway.storage`` before anyone sees them; the stored ECG and vitals go
on to the patient analysis (``hospital_gateway.analysis``, in worker threads), whose
results the relay sends to the viewers and back to the publisher as ``analysis``
messages. The voice line (``/talk``) carries Opus frames between the crew's tablet
page and the MC doctor's console, never to the viewers and never stored. Once the
transport has ended, its publisher may still deliver queued records for a grace period, but no
video. Plain HTTP goes to ``hospital_gateway.http``; ``hospital_gateway.server``
runs a ``Relay`` until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ems.access.policy import PublishScope, TransportFacts
from ems.db import Database
from ems_contracts import control
from ems_contracts.frames import HEADER_SIZE, Frame, ProtocolError, decode_frame
from hospital_gateway import http
from hospital_gateway.access import GRACE_EXPIRED, Authorizer, Grant, Refused, Side
from hospital_gateway.analysis import StreamAnalysis
from hospital_gateway.metrics import RelayMetrics
from hospital_gateway.protocol import Push, Registry, TalkQueue, ViewerQueue
from hospital_gateway.settings import RelaySettings
from hospital_gateway.storage import RecordStore, parse_record

if TYPE_CHECKING:
    from hospital_gateway.redis_bus import RedisBus

log = logging.getLogger("hospital_gateway")

CLOSE_POLICY = 1008  # refused or revoked authorisation
CLOSE_TRY_AGAIN = 1013  # a viewer that cannot keep up; the relay full or unavailable
CLOSE_REPLACED = 4000  # a newer connection of the same transport's publisher
# A relay that stopped saying who is on a voice line there is forgotten after this.
TALK_PEERS_TTL_S = 10.0


@dataclass
class Client:
    """One authorised connection, publisher or viewer, of one transport's stream."""

    id: int
    ws: ServerConnection
    transport_id: int
    grant: Grant
    token: str
    queue: ViewerQueue = field(default_factory=ViewerQueue)
    talk: TalkQueue = field(default_factory=TalkQueue)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    checked_token_at: float = field(default_factory=time.monotonic)
    # The transport's access facts as last re-checked (a publisher's scope follows them).
    access: TransportFacts | None = None


class Relay:
    """One relay process: its server, connections, rooms and background loops."""

    def __init__(self, settings: RelaySettings, *, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.authz = Authorizer(self.db, record_grace_s=settings.record_grace_s)
        self.records = RecordStore(self.db)
        self.registry = Registry()
        self.viewers: dict[int, Client] = {}
        self.publishers: dict[int, Client] = {}
        self.talkers: dict[int, Client] = {}
        # Who is on each voice line on the other relays: transport → relay id →
        # (roles, when last heard).
        self._remote_talk: dict[int, dict[bytes, tuple[list[str], float]]] = {}
        self.bus: RedisBus | None = None
        self.server: Server | None = None
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._recheck_now: set[int] = set()
        self._recheck_event = asyncio.Event()
        self._last_keyframe_request: dict[int, float] = {}
        self._background: set[asyncio.Future[None]] = set()
        self.connections: set[ServerConnection] = set()
        self.metrics = RelayMetrics()
        self.analysis = StreamAnalysis(
            on_result=self._on_analysis,
            on_drop=lambda kind: self.metrics.analysis_dropped.labels(kind=kind).inc(),
            workers=settings.analysis_workers,
            enabled=settings.analysis,
        )

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> Server:
        if self.settings.redis_url:
            from hospital_gateway.redis_bus import RedisBus

            self.bus = RedisBus(
                self.settings.redis_url,
                prefix=self.settings.redis_prefix,
                events_channel=self.settings.events_channel,
            )
            self.bus.on_frame = self._on_bus_frame
            self.bus.on_control = self._on_bus_control
            self.bus.on_stream_message = self._on_bus_stream_message
            self.bus.on_transport_update = self.recheck_soon
            self.bus.on_talk_frame = self._on_bus_talk_frame
            self.bus.on_talk_peers = self._on_bus_talk_peers
            await self.bus.start()
        self.server = await serve(
            self.handler,
            self.settings.host,
            self.settings.port,
            process_request=functools.partial(http.process_request, self),
            # Video is already compressed: deflate would only cost CPU and latency.
            compression=None,
            # Raised to ``max_size`` once the socket has authenticated (``handler``).
            max_size=self.settings.unauthenticated_max_size,
            ping_interval=self.settings.ping_interval,
            ping_timeout=self.settings.ping_timeout,
            write_limit=self.settings.write_limit,
        )
        self.analysis.start()
        self._tasks = [
            asyncio.create_task(self._recheck_loop(), name="recheck"),
            asyncio.create_task(self._feedback_loop(), name="feedback"),
        ]
        return self.server

    @property
    def stored(self) -> int:
        """Records stored since the relay started."""
        return self.records.stored

    @property
    def port(self) -> int:
        assert self.server is not None
        sock = next(iter(self.server.sockets))
        port: int = sock.getsockname()[1]
        return port

    async def stop(self) -> None:
        """Close every connection (1001 going away) and stop the background work."""
        for task in self._tasks:
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.analysis.close()
        if self.bus is not None:
            await self.bus.close()

    # --- connections ------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        if len(self.connections) >= self.settings.max_connections:
            log.warning("relay full", extra={"connections": len(self.connections)})
            with contextlib.suppress(ConnectionClosed):
                full = control.Error(code="relay_full", detail="too many connections; retry")
                await ws.send(full.to_json())
                await ws.close(CLOSE_TRY_AGAIN, "relay_full")
            return
        self.connections.add(ws)
        try:
            await self._handle(ws)
        finally:
            self.connections.discard(ws)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        target = http.stream_target(ws.request.path)
        if target is None:  # process_request refuses these; kept for direct callers
            await ws.close(CLOSE_POLICY, "unknown path")
            return
        transport_id, side = target
        try:
            token = await self._token(ws)
            grant = await asyncio.to_thread(
                self.authz.authorize, token=token, transport_id=transport_id, side=side
            )
        except Refused as exc:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(control.Error(code=exc.code, detail=exc.detail).to_json())
                await ws.close(CLOSE_POLICY, exc.code)
            return
        except ConnectionClosed:
            return
        except Exception:
            # The database is unreachable: the client retries later (1013), maybe elsewhere.
            log.exception("authorisation failed")
            with contextlib.suppress(ConnectionClosed):
                await ws.send(
                    control.Error(code="relay_unavailable", detail="try again shortly").to_json()
                )
                await ws.close(CLOSE_TRY_AGAIN, "relay_unavailable")
            return
        # Authenticated: now the frames may be as large as their kinds allow.
        ws.protocol.max_message_size = self.settings.max_size
        client = Client(next(self._ids), ws, transport_id, grant, token, access=grant.access)
        welcome = control.Welcome(
            transport_id=transport_id,
            side=side.value,
            role=grant.principal.role.value,
            # "records": the transport ended; the tablet sends its queued records only.
            scope=self.authz.scope(grant.access).value if side is Side.PUBLISH else None,
        )
        await ws.send(welcome.to_json())
        if side is Side.PUBLISH:
            await self._publish(client)
        elif side is Side.TALK:
            await self._talk(client)
        else:
            await self._view(client)

    async def _token(self, ws: ServerConnection) -> str:
        assert ws.request is not None
        header = ws.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        # Browsers cannot set headers on a WebSocket: the token comes in a first message,
        # never in the URL (URLs end up in logs).
        try:
            first = await asyncio.wait_for(ws.recv(), self.settings.auth_timeout_s)
        except TimeoutError:
            raise Refused("unauthenticated", "send a hello message with a token") from None
        try:
            hello = control.parse_control(first)
        except control.ControlError as exc:
            raise Refused("unauthenticated", f"the first message must be a hello: {exc}") from None
        if not isinstance(hello, control.Hello):
            raise Refused("unauthenticated", "the first message must be a hello with a token")
        return hello.token

    # --- publishing -------------------------------------------------------------

    async def _publish(self, client: Client) -> None:
        tid = client.transport_id
        old = self.publishers.get(tid)
        if old is not None:
            # The tablet reconnected (Wi-Fi ↔ LTE) before the old link timed out.
            await old.ws.close(CLOSE_REPLACED, "replaced by a newer connection")
        self.publishers[tid] = client
        room = self.registry.room(tid)
        room.publisher = client.id
        if self.bus is not None:
            await self.bus.serve(tid)
            # A relay that still holds an older link of this publisher drops it.
            self.bus.publish_control(tid, control.PublisherHere())
            await self._sync_watch(tid)
        lane = self.records.lane(
            transport_id=tid,
            user_id=client.grant.principal.user_id,
            send=client.ws.send,
            deliver=functools.partial(self._deliver, tid, local_origin=True),
            on_stored=functools.partial(self.analysis.offer, tid),
        )
        writer = asyncio.create_task(lane.run())
        try:
            async for message in client.ws:
                if isinstance(message, str):
                    await self._publisher_text(client, message)
                    continue
                try:
                    frame = decode_frame(message)
                    if frame.transport_id != tid:
                        raise ProtocolError("wrong_transport", "frame of another transport")
                    if frame.kind.is_audio:
                        # Talk-back is for the crew and the MC doctor, not the viewers.
                        raise ProtocolError("wrong_frame_kind", "audio goes on the talk path")
                    self._check_scope(client, frame)
                    record = parse_record(frame) if frame.kind.is_record else None
                except ProtocolError as exc:
                    error = control.Error(code=exc.code, detail=exc.detail, seq=_seq_of(message))
                    await client.ws.send(error.to_json())
                    continue
                if record is not None:
                    await lane.offer(frame, bytes(message), record)
                else:
                    self._deliver(tid, frame, bytes(message), local_origin=True)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if self.publishers.get(tid) is client:
                del self.publishers[tid]
                room.publisher = None
                if self.bus is not None:
                    await self.bus.unserve(tid)
                    await self._sync_watch(tid)
                self.registry.discard_if_empty(tid)

    def _check_scope(self, client: Client, frame: Frame) -> None:
        """Refuse a frame the transport's state no longer allows (from the last re-check)."""
        access = client.access
        if access is None or access.active:
            return
        scope = self.authz.scope(access)
        if scope is PublishScope.CLOSED:
            raise ProtocolError(GRACE_EXPIRED, "the transport ended too long ago")
        if not frame.kind.is_record:
            raise ProtocolError(f"transport_{access.status}", "the transport ended: records only")

    async def _publisher_text(self, client: Client, message: str) -> None:
        # A publisher has nothing to say in text yet: a valid message is ignored.
        try:
            control.parse_control(message)
        except control.ControlError as exc:
            await client.ws.send(control.Error(code=exc.code, detail=exc.detail).to_json())

    # --- fan-out ----------------------------------------------------------------

    def _deliver(self, tid: int, frame: Frame, raw: bytes, *, local_origin: bool) -> None:
        if local_origin and self.bus is not None:
            self.bus.publish_frame(tid, raw, droppable=frame.kind.is_video)
        room = self.registry.get(tid)
        if room is None:
            return
        outcomes = room.fan_out(frame, raw)
        for vid, outcome in outcomes.items():
            viewer = self.viewers.get(vid)
            if viewer is None:
                continue
            if outcome is Push.QUEUED:
                viewer.wake.set()
            elif outcome is Push.OVERFLOW:
                self._spawn(viewer.ws.close(CLOSE_TRY_AGAIN, "viewer too slow"))
        if frame.kind.is_video and room.needs_keyframe():
            self.request_keyframe(tid)

    def _on_analysis(self, tid: int, message: control.Analysis) -> None:
        """A result of the patient analysis: to the viewers here and on the other
        relays, and back to the crew's tablet."""
        self.metrics.analyses.inc()
        self._announce(tid, message)
        if self.bus is not None:
            self.bus.publish_to_viewers(tid, message)
        publisher = self.publishers.get(tid)
        if publisher is not None:
            self._spawn(_send_quietly(publisher.ws, message.to_json()))

    def _announce(self, tid: int, message: control.Analysis) -> None:
        room = self.registry.get(tid)
        if room is None:
            return
        # A viewer who joins later sees the state, not alerts that were news before.
        replay = message.model_copy(update={"alerts": []}).to_json()
        for vid, outcome in room.announce(message.to_json(), replay=replay).items():
            viewer = self.viewers.get(vid)
            if viewer is None:
                continue
            if outcome is Push.QUEUED:
                viewer.wake.set()
            elif outcome is Push.OVERFLOW:
                self._spawn(viewer.ws.close(CLOSE_TRY_AGAIN, "viewer too slow"))

    def _on_bus_stream_message(self, tid: int, message: control.Message) -> None:
        if isinstance(message, control.Analysis):
            self._announce(tid, message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def request_keyframe(self, tid: int) -> None:
        now = time.monotonic()
        if now - self._last_keyframe_request.get(tid, 0.0) < self.settings.keyframe_request_s:
            return
        self._last_keyframe_request[tid] = now
        publisher = self.publishers.get(tid)
        if publisher is not None:
            self._spawn(_send_quietly(publisher.ws, control.KeyframeRequest().to_json()))
        elif self.bus is not None:
            self.bus.publish_control(tid, control.KeyframeRequest())

    def _on_bus_frame(self, tid: int, raw: bytes) -> None:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            return
        self._deliver(tid, frame, raw, local_origin=False)

    def _on_bus_control(self, tid: int, message: control.Message) -> None:
        if isinstance(message, control.KeyframeRequest) and tid in self.publishers:
            self._last_keyframe_request.pop(tid, None)
            self.request_keyframe(tid)
        elif isinstance(message, control.PublisherHere) and tid in self.publishers:
            # The tablet reconnected to another relay before its old link here
            # timed out: close the old one, so that this relay's viewers take the
            # frames from the bus again.
            self._spawn(self.publishers[tid].ws.close(CLOSE_REPLACED, "publisher moved"))

    async def _sync_watch(self, tid: int) -> None:
        """Take a transport's frames from the bus only while this relay has viewers
        of it and not its publisher: a relay never reads back its own frames."""
        if self.bus is None:
            return
        room = self.registry.get(tid)
        if room is not None and room.viewers and tid not in self.publishers:
            await self.bus.watch(tid)
        else:
            await self.bus.unwatch(tid)

    # --- viewing ----------------------------------------------------------------

    async def _view(self, client: Client) -> None:
        tid = client.transport_id
        room = self.registry.room(tid)
        self.viewers[client.id] = client
        room.join(client.id, client.queue)
        client.wake.set()
        await self._sync_watch(tid)
        if not room.gop.has_keyframe:
            self.request_keyframe(tid)
        sender = asyncio.create_task(self._send_loop(client, client.queue))
        try:
            async for message in client.ws:
                if isinstance(message, bytes):
                    refused = control.Error(code="viewers_cannot_publish", detail="read-only")
                    await client.ws.send(refused.to_json())
                    continue
                try:
                    msg = control.parse_control(message)
                except control.ControlError as exc:
                    await client.ws.send(control.Error(code=exc.code, detail=exc.detail).to_json())
                    continue
                if isinstance(msg, control.KeyframeRequest):
                    self.request_keyframe(tid)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.viewers.pop(client.id, None)
            room.leave(client.id)
            await self._sync_watch(tid)
            self.registry.discard_if_empty(tid)

    @staticmethod
    async def _send_loop(client: Client, queue: ViewerQueue | TalkQueue) -> None:
        """Send what waits in ``queue`` (the viewer's stream or the voice line) to the
        client, waking when something is queued."""
        try:
            while True:
                raw = queue.pop()
                if raw is None:
                    client.wake.clear()
                    await client.wake.wait()
                    continue
                # Waits while this client's socket buffer is full: only this client waits.
                await client.ws.send(raw)
        except ConnectionClosed:
            pass

    # --- the voice line ---------------------------------------------------------

    async def _talk(self, client: Client) -> None:
        """The crew or the MC doctor on the transport's voice line: their audio frames
        go to everyone else on it (on this relay and, through Redis, on the others)."""
        tid = client.transport_id
        room = self.registry.room(tid)
        self.talkers[client.id] = client
        room.talk.join(client.id, client.grant.principal.role.value, client.talk)
        if self.bus is not None:
            await self.bus.join_talk(tid)
        self._talk_changed(tid)
        sender = asyncio.create_task(self._send_loop(client, client.talk))
        try:
            async for message in client.ws:
                if isinstance(message, str):
                    try:
                        control.parse_control(message)
                    except control.ControlError as exc:
                        error = control.Error(code=exc.code, detail=exc.detail)
                        await client.ws.send(error.to_json())
                    continue
                try:
                    frame = decode_frame(message)
                    if frame.transport_id != tid:
                        raise ProtocolError("wrong_transport", "frame of another transport")
                    if not frame.kind.is_audio:
                        raise ProtocolError("wrong_frame_kind", "the talk path takes audio only")
                except ProtocolError as exc:
                    error = control.Error(code=exc.code, detail=exc.detail, seq=_seq_of(message))
                    await client.ws.send(error.to_json())
                    continue
                raw = bytes(message)
                self._speak(tid, raw, sender=client.id)
                if self.bus is not None:
                    self.bus.publish_talk(tid, raw)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.talkers.pop(client.id, None)
            room.talk.leave(client.id)
            self._talk_changed(tid)
            if self.bus is not None and not room.talk.talkers:
                await self.bus.leave_talk(tid)
                self._remote_talk.pop(tid, None)
            self.registry.discard_if_empty(tid)

    def _speak(self, tid: int, raw: bytes, *, sender: int | None) -> None:
        room = self.registry.get(tid)
        if room is None:
            return
        for talker_id in room.talk.speak(raw, sender=sender):
            talker = self.talkers.get(talker_id)
            if talker is not None:
                talker.wake.set()

    def _talk_changed(self, tid: int) -> None:
        """Tell everyone on the line who else is on it; tell the other relays who is here."""
        room = self.registry.get(tid)
        if room is None:
            return
        if self.bus is not None:
            here = sorted(role for role, _ in room.talk.talkers.values())
            self.bus.publish_talk_peers(tid, here)
        self._send_rosters(tid)

    def _send_rosters(self, tid: int) -> None:
        room = self.registry.get(tid)
        if room is None:
            return
        remote = [r for roles, _ in self._remote_talk.get(tid, {}).values() for r in roles]
        for talker_id, roles in room.talk.roster(remote).items():
            talker = self.talkers.get(talker_id)
            if talker is not None:
                talker.talk.push_message(control.TalkPeers(roles=roles).to_json())
                talker.wake.set()

    def _on_bus_talk_frame(self, tid: int, raw: bytes) -> None:
        self._speak(tid, raw, sender=None)

    def _on_bus_talk_peers(self, tid: int, origin: bytes, roles: list[str]) -> None:
        room = self.registry.get(tid)
        if room is None or not room.talk.talkers:
            return
        known = self._remote_talk.setdefault(tid, {})
        news = origin not in known or known[origin][0] != roles
        first = origin not in known
        known[origin] = (roles, time.monotonic())
        if first and self.bus is not None:
            # A relay new to the line learns at once who is here.
            self.bus.publish_talk_peers(tid, sorted(r for r, _ in room.talk.talkers.values()))
        if news:
            self._send_rosters(tid)

    def _talk_heartbeat(self) -> None:
        """Every few seconds: say who is on each line here, forget silent relays."""
        if self.bus is None:
            return
        now = time.monotonic()
        for room in self.registry:
            if not room.talk.talkers:
                continue
            tid = room.transport_id
            self.bus.publish_talk_peers(tid, sorted(r for r, _ in room.talk.talkers.values()))
            known = self._remote_talk.get(tid, {})
            stale = [o for o, (_, seen) in known.items() if now - seen > TALK_PEERS_TTL_S]
            for origin in stale:
                del known[origin]
            if stale:
                self._send_rosters(tid)

    # --- authorisation re-checks -----------------------------------------------

    def recheck_soon(self, transport_id: int) -> None:
        self._recheck_now.add(transport_id)
        self._recheck_event.set()

    async def _recheck_loop(self) -> None:
        last_full = time.monotonic()
        while True:
            wait_s = max(0.0, last_full + self.settings.recheck_s - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck_event.wait(), wait_s)
            self._recheck_event.clear()
            # An API event names the transports it changed: re-check those at once
            # and leave the others to the periodic pass (every event re-checking all
            # streams kept the relay busy querying the database under dispatch load).
            full = time.monotonic() - last_full >= self.settings.recheck_s
            only = None if full else set(self._recheck_now)
            self._recheck_now.clear()
            if full:
                last_full = time.monotonic()
            try:
                await self.recheck_all(only=only)
            except Exception:
                log.exception("authorisation re-check failed")

    async def recheck_all(self, only: set[int] | None = None) -> None:
        """Cut every connection (of the ``only`` transports) that lost its right to the stream."""
        clients = [
            c
            for c in (*self.viewers.values(), *self.publishers.values(), *self.talkers.values())
            if only is None or c.transport_id in only
        ]
        transports = {c.transport_id for c in clients}
        accesses: dict[int, TransportFacts] = (
            await asyncio.to_thread(self.authz.accesses, sorted(transports)) if transports else {}
        )
        now = time.monotonic()
        for c in clients:
            if c.grant.side is Side.PUBLISH and c.transport_id in accesses:
                c.access = accesses[c.transport_id]
            who = c.grant.principal
            if now - c.checked_token_at >= self.settings.token_recheck_s:
                c.checked_token_at = now
                fresh = await asyncio.to_thread(self.authz.principal, c.token)
                if fresh is None or fresh.user_id != who.user_id:
                    await self._revoke(c, "invalid_token")
                    continue
                who = fresh
            access = accesses.get(c.transport_id)
            code = self.authz.revocation(c.grant, who, access)
            if code is not None:
                await self._revoke(c, code)

    async def _revoke(self, client: Client, code: str) -> None:
        log.info(
            "stream access revoked",
            extra={"transport_id": client.transport_id, "user_id": client.grant.principal.user_id},
        )
        revoked = control.Error(code=code, detail="your access to this stream ended")
        await _send_quietly(client.ws, revoked.to_json())
        await client.ws.close(CLOSE_POLICY, code)

    # --- feedback to publishers -----------------------------------------------

    async def _feedback_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.feedback_s)
            self.analysis.forget_idle()
            self._talk_heartbeat()
            for tid, publisher in list(self.publishers.items()):
                room = self.registry.get(tid)
                if room is None:
                    continue
                viewers, congested = room.congestion()
                room.reset_counters()
                feedback = control.Feedback(viewers=viewers, congested=congested)
                await _send_quietly(publisher.ws, feedback.to_json())


def _seq_of(message: bytes) -> int | None:
    try:
        return decode_frame(message).seq if len(message) >= HEADER_SIZE else None
    except ProtocolError:
        return int.from_bytes(message[12:20], "big") if len(message) >= 20 else None


async def _send_quietly(ws: ServerConnection, message: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(message)
