"""nginx (Debian's package) in front of a running system, with TLS from a test CA: the
configuration is docker/nginx/ems.conf.template, the one the compose file runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.browser.system import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docker" / "nginx" / "ems.conf.template"
NGINX = "/usr/sbin/nginx"


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it: (ca, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMS test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return ca_path, cert_path, key_path


def browser_home(ca: Path, folder: Path) -> Path:
    """A HOME whose NSS store (the one Chromium reads on Linux) trusts ``ca``."""
    nssdb = folder / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-d", f"sql:{nssdb}", "-A", "-n", "ems-test-ca", "-t", "C,,", "-i", str(ca)],
        check=True,
    )
    return folder


def render(values: dict[str, str]) -> str:
    """The template with our variables filled in; nginx's own ``$vars`` stay as they are."""
    return string.Template(TEMPLATE.read_text()).safe_substitute(values)


def _wait_tls(port: int, ca: Path, timeout_s: float = 10.0) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as sock,
                ctx.wrap_socket(sock, server_hostname="127.0.0.1"),
            ):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class TlsFront:
    """nginx terminating TLS on two loopback ports: the API and pages, and the relay."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca, self.cert, self.key = make_test_ca(folder / "tls")
        self.api_port, self.relay_port = free_port(), free_port()
        self.server_url = f"https://127.0.0.1:{self.api_port}"
        self.relay_url = f"wss://127.0.0.1:{self.relay_port}"

    def config(
        self, server_port: int, relay_port: int, client_ca: Path, client_verify: str = "optional"
    ) -> str:
        site = render(
            {
                "API_LISTEN": f"127.0.0.1:{self.api_port}",
                "RELAY_LISTEN": f"127.0.0.1:{self.relay_port}",
                "SERVER_UPSTREAM": f"127.0.0.1:{server_port}",
                "RELAY_UPSTREAM": f"127.0.0.1:{relay_port}",
                "TLS_CERT": str(self.cert),
                "TLS_KEY": str(self.key),
                "CLIENT_CA": str(client_ca),
                "CLIENT_VERIFY": client_verify,
            }
        )
        (self.folder / "ems.conf").write_text(site)
        run = self.folder / "run"
        run.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {run / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\ndaemon off;\npid {run / 'nginx.pid'};\n"
            "error_log stderr warn;\nevents { worker_connections 512; }\n"
            f"http {{\n    access_log off;\n{temp}\n    include {self.folder / 'ems.conf'};\n}}\n"
        )

    @contextlib.contextmanager
    def running(
        self, server_port: int, relay_port: int, pki_dir: Path, client_verify: str = "optional"
    ) -> Iterator[None]:
        # Tablets may present the device certificates the card issuer gave them: the
        # device CA and the root it chains to.
        chain = self.folder / "device-ca-chain.pem"
        names = ("device-ca.pem", "root.pem")
        chain.write_bytes(b"".join((pki_dir / n).read_bytes() for n in names))
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config(server_port, relay_port, chain, client_verify))
        proc = subprocess.Popen([NGINX, "-p", str(self.folder), "-c", str(conf)])
        old = os.environ.get("SSL_CERT_FILE")
        # The in-process clients (the tablet's agent, the test's own requests) trust the
        # test CA as a tablet trusts the deployment's.
        os.environ["SSL_CERT_FILE"] = str(self.ca)
        try:
            _wait_tls(self.api_port, self.ca)
            _wait_tls(self.relay_port, self.ca)
            yield
        finally:
            if old is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = old
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
