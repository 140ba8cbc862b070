"""The whole browser flow through nginx with TLS, as a deployment runs it: pages, API
and live events over https, the stream over wss, the tablet's agent over https, and
plain http refused on the TLS ports."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.system import CHROMIUM, CHROMIUM_ARGS, System, running_system
from tests.browser.test_flows import test_call_to_handover as call_to_handover
from tests.tls.front import NGINX, TlsFront, browser_home, render

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> TlsFront:
    if not (Path(NGINX).exists() and Path(CHROMIUM).exists()):
        pytest.fail("nginx and Chromium come from Debian's packages at setup (make setup)")
    return TlsFront(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def system(front: TlsFront) -> Iterator[System]:
    with running_system(front=front) as s:
        yield s


@pytest.fixture(scope="module")
def browser(front: TlsFront, system: System, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from playwright.sync_api import sync_playwright

    home = browser_home(front.ca, tmp_path_factory.mktemp("home"))
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            env={**os.environ, "HOME": str(home)},
        )
        yield b
        b.close()


def test_the_template_renders_to_a_configuration_nginx_accepts(
    front: TlsFront, tmp_path: Path
) -> None:
    ca = front.ca  # any CA file does for the syntax check
    conf = tmp_path / "nginx.conf"
    conf.write_text(front.config(8000, 8765, ca).replace(str(front.folder / "run"), str(tmp_path)))
    out = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "${" not in render({k: "x" for k in _template_vars()})


def _template_vars() -> list[str]:
    head = (Path(__file__).resolve().parents[2] / "docker/nginx/entrypoint.sh").read_text()
    line = next(x for x in head.splitlines() if x.startswith("envsubst "))
    return [v.strip("${}") for v in line.split("'")[1].split()]


def test_pages_api_and_relay_answer_over_tls_only(front: TlsFront, system: System) -> None:
    ctx = ssl.create_default_context(cafile=str(front.ca))
    with urllib.request.urlopen(f"{system.server_url}/login", context=ctx) as resp:
        assert resp.status == 200
        assert "max-age=" in resp.headers["Strict-Transport-Security"]
        # The pages open the relay through the front, never around it.
        csp = resp.headers["Content-Security-Policy"]
        assert f"https://127.0.0.1:{front.relay_port}" in csp
    with urllib.request.urlopen(f"https://127.0.0.1:{front.relay_port}/healthz", context=ctx) as r:
        assert r.status == 200
    body = json.dumps({"username": "dispatcher", "password": "wrong"}).encode()
    req = urllib.request.Request(
        f"{system.server_url}/api/v1/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, context=ctx)
    assert refused.value.code == 401
    # Plain http on the TLS port gets nginx's 400, and no page.
    with socket.create_connection(("127.0.0.1", front.api_port), timeout=5) as sock:
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"400" in sock.recv(4096).split(b"\r\n", 1)[0]
    # A client that does not trust the deployment's CA is refused the handshake.
    os_env = os.environ.pop("SSL_CERT_FILE", None)
    try:
        untrusting = ssl.create_default_context()
        with pytest.raises(urllib.error.URLError) as unverified:
            urllib.request.urlopen(f"{system.server_url}/login", context=untrusting)
        assert isinstance(unverified.value.reason, ssl.SSLCertVerificationError)
    finally:
        if os_env is not None:
            os.environ["SSL_CERT_FILE"] = os_env


@pytest.mark.parametrize("lang", ["ja"])
def test_the_browser_flow_runs_through_nginx_with_tls(
    system: System, browser: Any, lang: str
) -> None:
    assert system.server_url.startswith("https://") and system.relay_url.startswith("wss://")
    call_to_handover(system, browser, lang)


def test_with_mutual_tls_only_a_tablet_with_its_device_certificate_gets_through(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """TABLET_MTLS=on: nginx asks for the device certificate the card issuer gave the
    tablet (checked against the issuer's device CA and root); without one, no API."""
    from ambulance_client.upstream import tls_context

    strict = TlsFront(tmp_path_factory.mktemp("mtls"))
    upstream = urllib.parse.urlsplit(system.app.config["RELAY_URL"])
    assert upstream.port is not None
    pki = Path(system.app.config["PKI_DIR"])
    with strict.running(system.server_port, upstream.port, pki, client_verify="on"):
        url = f"{strict.server_url}/healthz"
        os.environ["EMS_CA_FILE"] = str(strict.ca)
        try:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url, context=tls_context())
            assert refused.value.code == 400  # nginx: no required SSL certificate was sent
            os.environ["EMS_TLS_DEVICE_DIR"] = system.seeded.device_dir
            with urllib.request.urlopen(url, context=tls_context()) as resp:
                assert resp.status == 200
        finally:
            os.environ.pop("EMS_CA_FILE", None)
            os.environ.pop("EMS_TLS_DEVICE_DIR", None)
