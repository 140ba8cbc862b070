"""``ems-ambulance stream``: stream a transport's video, ECG and vitals to the relay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import urllib.error
import urllib.request

import click

from ambulance_client.capture import CaptureError, open_source
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer, StreamRefused


def _check_token(server: str, token: str) -> None:
    """Fail early on a wrong token while the API is reachable; carry on when it is not
    (the tablet may start in a dead zone, and the relay checks the token anyway)."""
    req = urllib.request.Request(
        f"{server.rstrip('/')}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            me = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise click.ClickException("the token was refused by the server") from None
        click.echo(f"server answered {exc.code}; streaming anyway", err=True)
        return
    except (urllib.error.URLError, OSError):
        click.echo("server unreachable; streaming anyway", err=True)
        return
    click.echo(f"streaming as {me.get('username')} ({me.get('role')})", err=True)


def register(main: click.Group) -> None:
    @main.command("stream")
    @click.option("--server", default="http://127.0.0.1:5000", help="API base URL")
    @click.option("--relay", default="ws://127.0.0.1:8765", help="relay WebSocket URL")
    @click.option("--token", envvar="EMS_TOKEN", required=True, help="bearer token")
    @click.option("--transport", "transport_id", type=int, required=True)
    @click.option(
        "--source",
        default="synthetic",
        help="synthetic | camera | device number | file path | rtsp://…",
    )
    @click.option("--codec", type=click.Choice(["h264", "jpeg"]), default="h264")
    @click.option("--no-video", is_flag=True, help="send ECG and vitals only")
    @click.option(
        "--monitor",
        "scenario",
        type=click.Choice(["stable", "arrest"]),
        default="stable",
        help="the simulated monitor: a stable patient, or a cardiac arrest (VF, shock, ROSC)",
    )
    def stream(
        server: str,
        relay: str,
        token: str,
        transport_id: int,
        source: str,
        codec: str,
        no_video: bool,
        scenario: str,
    ) -> None:
        """Stream a transport's camera, ECG and vitals to the ER until interrupted."""
        _check_token(server, token)
        try:
            src = None if no_video else open_source(source)
        except CaptureError as exc:
            raise click.ClickException(str(exc)) from None
        streamer = Streamer(
            StreamConfig(
                relay_url=relay,
                token=token,
                transport_id=transport_id,
                codec=codec,
                video=not no_video,
            ),
            source=src,
            monitor=SimulatedMonitor(scenario="arrest" if scenario == "arrest" else "stable"),
        )

        async def go() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            await streamer.run(stop)

        try:
            asyncio.run(go())
        except StreamRefused as exc:
            lost = len(streamer.outbox.failed)
            detail = f"; {lost} queued records refused for good" if lost else ""
            raise click.ClickException(
                f"the relay refused the stream: {exc.code}{detail}"
            ) from None
        finally:
            if src is not None:
                src.close()
        pending = len(streamer.outbox)
        click.echo(
            f"stopped: {streamer.stats.video_frames} video frames, "
            f"{streamer.outbox.acked} records stored, {pending} not yet delivered",
            err=True,
        )
        failed = streamer.outbox.failed
        if failed:
            codes = ", ".join(sorted({f.code for f in failed}))
            click.echo(f"{len(failed)} records refused for good by the relay ({codes})", err=True)
