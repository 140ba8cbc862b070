"""A real Chromium shows the ER viewer page: WebCodecs decodes the tablet's H.264
(or the JPEG fallback), the ECG is drawn and the stream reads as live."""

from __future__ import annotations

import asyncio
import os

import pytest

from ambulance_client.adapt import Adapter, Level
from ambulance_client.capture import SyntheticSource
from ambulance_client.monitor import SimulatedMonitor
from ambulance_client.streamer import StreamConfig, Streamer
from tests.hospital_gateway.conftest import World, run, running_relay

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]

# Mean colour of the video canvas and count of bright-green ECG pixels.
PIXELS = """() => {
  const v = document.querySelector('.ems-viewer-video');
  const d = v.getContext('2d').getImageData(0, 0, v.width, v.height).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
  const e = document.querySelector('.ems-viewer-ecg');
  const g = e.getContext('2d').getImageData(0, 0, e.width, e.height).data;
  let green = 0;
  for (let i = 0; i < g.length; i += 4) if (g[i + 1] > 200 && g[i] < 120) green++;
  return {mean: sum / (d.length / 4) / 3, width: v.width, height: v.height, green};
}"""


@pytest.mark.parametrize("codec", ["h264", "jpeg"])
def test_chromium_decodes_and_shows_the_stream(world: World, codec: str) -> None:
    from playwright.async_api import async_playwright

    async def scenario() -> None:
        async with running_relay(world) as relay:
            streamer = Streamer(
                StreamConfig(
                    relay_url=f"ws://127.0.0.1:{relay.port}",
                    token=world.tokens["paramedic"],
                    transport_id=world.transport_id,
                    codec=codec,
                    vitals_every_s=0.5,
                ),
                source=SyntheticSource(320, 180, fps=15),
                monitor=SimulatedMonitor(seed=3),
                adapter=Adapter(ladder=(Level(320, 180, 15, 300, 70),)),
            )
            stop = asyncio.Event()
            task = asyncio.create_task(streamer.run(stop))
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=FLAGS
                )
                page = await browser.new_page()
                await page.goto(
                    f"http://127.0.0.1:{relay.port}/viewer/?transport={world.transport_id}"
                    f"#token={world.tokens['er_a']}"
                )
                await page.wait_for_function(
                    "Number(document.getElementById('viewer').dataset.framesDecoded) >= 5",
                    timeout=30_000,
                )
                await page.wait_for_function(
                    "document.querySelector('[data-vital=hr]') !== null", timeout=30_000
                )
                # One second of ECG received, then one more paint.
                await page.wait_for_function("window.emsViewer.state.ecg.length >= 250")
                await page.evaluate("new Promise(r => requestAnimationFrame(() => r(null)))")
                pixels = await page.evaluate(PIXELS)
                state = await page.evaluate("document.getElementById('viewer').dataset.state")
                hr = await page.inner_text("[data-vital=hr]")
                await browser.close()
            stop.set()
            await task
        assert (pixels["width"], pixels["height"]) == (320, 180)
        assert pixels["mean"] > 30  # a picture, not a black canvas
        assert pixels["green"] > 50  # the ECG trace
        assert state == "live"
        assert hr.isdigit()

    run(scenario())


def test_chromium_shows_a_refusal_for_the_wrong_hospital(world: World) -> None:
    from playwright.async_api import async_playwright

    async def scenario() -> None:
        async with running_relay(world) as relay, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = await browser.new_page()
            await page.goto(
                f"http://127.0.0.1:{relay.port}/viewer/?transport={world.transport_id}"
                f"#token={world.tokens['er_b']}"
            )
            await page.wait_for_function(
                "document.getElementById('viewer').dataset.state === 'refused'",
                timeout=30_000,
            )
            text = await page.inner_text(".ems-viewer-status")
            await browser.close()
        assert "not_your_hospital" in text

    run(scenario())
