"""The running system and the browser that the flows of one test module share.

Each module gets a system of its own (``running_system``: server, relay, tablet agent on
free ports, a seeded database) and one Chromium for its pages. A module may set
``BROWSER_ARGS`` for flags of its own (the fake microphone of the talk-back flows) and
``TABLET_MONITOR`` for what the tablet's simulated monitor plays (``"arrest"``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.system import CHROMIUM, System, launch_browser, running_system


@pytest.fixture(scope="module")
def system(request: pytest.FixtureRequest) -> Iterator[System]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    with running_system() as s:
        s.tablet.stream.settings.monitor = getattr(request.module, "TABLET_MONITOR", "stable")
        yield s


@pytest.fixture(scope="module")
def browser(system: System, request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_browser(pw, *getattr(request.module, "BROWSER_ARGS", ()))
        yield b
        b.close()
