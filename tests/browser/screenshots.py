"""``python -m tests.browser.screenshots``: a PNG of every page in both languages.

Starts the whole system (see ``tests.browser.system``), plays a short scenario so that
the pages have something to show (calls, a dispatched unit, an identified patient, parallel
hospital requests, one accepted with the stream running) and writes
``screenshots/<page>-<lang>-<width>x<height>.png`` at the two laptop sizes the command
centre and the ER use (1280×800 and 1366×768) and at two tablet sizes (1024×768
landscape, where the MC console is one column, and 800×1280 portrait).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tests.browser import flows
from tests.browser.system import ROOT, launch_browser, running_system

OUT = ROOT / "screenshots"
VIEWPORTS = (
    {"width": 1280, "height": 800},
    {"width": 1366, "height": 768},
    {"width": 1024, "height": 768},
    {"width": 800, "height": 1280},
)


def shoot(page: Any, name: str, lang: str) -> Path:
    size = page.viewport_size
    path = OUT / f"{name}-{lang}-{size['width']}x{size['height']}.png"
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))
    return path


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    written: list[Path] = []
    started = time.monotonic()
    with running_system(roads=True) as system, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            api = flows.ApiClient(system.server_url)
            flows.background_scene(api, system)
            for lang, viewport in ((lang, v) for lang in ("ja", "en") for v in VIEWPORTS):
                ctx = browser.new_context(
                    viewport=viewport, locale="ja-JP" if lang == "ja" else "en-GB"
                )
                flows.set_language(ctx, lang)
                page = ctx.new_page()
                page.goto(f"{system.server_url}/login")
                page.wait_for_selector("#login-form")
                written.append(shoot(page, "login", lang))
                flows.login(page, system.server_url, "dispatcher")
                page.wait_for_selector("[data-ready=true]")
                page.locator(".incident-card").first.click()
                page.wait_for_selector(".rec")
                written.append(shoot(page, "dispatch", lang))
                ctx.close()

                ctx = browser.new_context(viewport=viewport)
                flows.set_language(ctx, lang)
                page = ctx.new_page()
                flows.login(page, system.server_url, "er")
                page.wait_for_selector("[data-ready=true]")
                page.wait_for_selector(".patient-card", timeout=15000)
                page.wait_for_timeout(2500)  # a few seconds of video and ECG
                written.append(shoot(page, "er", lang))
                ctx.close()

                ctx = browser.new_context(viewport=viewport)
                flows.set_language(ctx, lang)
                page = ctx.new_page()
                flows.login(page, system.server_url, "mc")
                page.wait_for_selector("[data-ready=true]")
                page.locator(".mc-req .mc-req-btn").first.click()
                page.wait_for_selector("#mc-live[data-frames-decoded]", timeout=15000)
                page.wait_for_timeout(2500)  # a few seconds of video and ECG
                written.append(shoot(page, "mc", lang))
                ctx.close()

                ctx = browser.new_context(viewport=viewport, has_touch=True)
                flows.set_language(ctx, lang)
                page = ctx.new_page()
                page.goto(f"{system.tablet_url}/")
                page.wait_for_selector("#tab-login")
                written.append(shoot(page, "tablet-login", lang))
                flows.tablet_login(page)
                page.wait_for_selector(".step-btn")
                written.append(shoot(page, "tablet", lang))
                ctx.close()
        finally:
            browser.close()
    for path in written:
        print(path.relative_to(ROOT))
    print(f"{len(written)} screenshots in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
