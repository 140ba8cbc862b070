"""``ems-ambulance card …``: read the patient's My Number card and show their history.

The PKCS#11 module is a setting: SoftHSM2 for the mock cards, OpenSC's
``opensc-pkcs11.so`` for a real card. The record is printed, never saved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from ambulance_client.card import (
    SOFTHSM2_MODULE,
    CardError,
    CardReader,
    DeviceKey,
    HttpApi,
    ServerError,
    identify_with_pin,
    identify_without_pin,
)


def _reader(module: str, token: str | None, softhsm_conf: str | None) -> CardReader:
    return CardReader(module, token_label=token, softhsm_conf=softhsm_conf)


def _print_record(view: dict[str, Any]) -> None:
    s = view["summary"]
    p = s["patient"]
    click.echo(f"== {p['name']}  {p['sex']}  {p['age']}歳  (patient {view['patient_id']})")
    click.echo(f"   本人確認: {view['assurance_notice']}")
    sections: tuple[tuple[str, list[dict[str, Any]], Callable[[dict[str, Any]], str]], ...] = (
        (
            "アレルギー",
            s["allergies"],
            lambda a: f"{a['substance']} [{a['criticality']}] {', '.join(a['reactions'])}",
        ),
        ("服薬", s["medications"], lambda m: f"{m['medication']}  {m['dosage']}"),
        ("既往・現病", s["conditions"], lambda c: f"{c['condition']} ({c['onset']})"),
        ("手術", s["surgeries"], lambda x: f"{x['date']} {x['procedure']}"),
        ("検査", s["observations"], lambda o: f"{o['date']} {o['observation']} {o['value']}"),
        (
            "受診",
            s["encounters"],
            lambda e: f"{e['date']} {e['kind']} {e['reason']} {e['provider']}",
        ),
    )
    for title, items, fmt in sections:
        click.echo(f"-- {title}: {'なし' if not items else ''}")
        for item in items:
            click.echo(f"   {fmt(item)}")


def register(main: click.Group) -> None:
    @main.group()
    @click.option(
        "--module",
        default=lambda: os.environ.get("EMS_CARD_PKCS11_MODULE", SOFTHSM2_MODULE),
        show_default="EMS_CARD_PKCS11_MODULE or SoftHSM2",
        help="PKCS#11 module (opensc-pkcs11.so for a real card)",
    )
    @click.option(
        "--token", default=lambda: os.environ.get("EMS_CARD_TOKEN_LABEL"), help="token label"
    )
    @click.option(
        "--softhsm-conf",
        default=lambda: os.environ.get("SOFTHSM2_CONF"),
        help="SoftHSM2 configuration of the mock card store",
    )
    @click.pass_context
    def card(ctx: click.Context, module: str, token: str | None, softhsm_conf: str | None) -> None:
        """The patient's My Number card."""
        ctx.obj = _reader(module, token, softhsm_conf)

    @card.command("read")
    @click.pass_obj
    def read(reader: CardReader) -> None:
        """Show the card's authentication certificate (no PIN needed)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        try:
            cert = x509.load_der_x509_certificate(reader.read_certificate())
            status = reader.pin_status()
        except CardError as err:
            raise click.ClickException(f"{err.code}: {err}") from None
        click.echo(f"subject     {cert.subject.rfc4514_string()}")
        click.echo(f"issuer      {cert.issuer.rfc4514_string()}")
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        click.echo(f"valid       {start:%Y-%m-%d} – {end:%Y-%m-%d}")
        click.echo(f"sha256      {cert.fingerprint(hashes.SHA256()).hex()}")
        left = "unknown" if status.tries_left is None else status.tries_left
        click.echo(f"PIN tries   {left}{'  (LOCKED)' if status.locked else ''}")

    @card.command("identify")
    @click.option("--transport", "transport_id", required=True, type=int)
    @click.option(
        "--server", default=lambda: os.environ.get("EMS_SERVER_URL", "http://127.0.0.1:8000")
    )
    @click.option(
        "--api-token", default=lambda: os.environ.get("EMS_TOKEN", ""), help="bearer token"
    )
    @click.option("--pinless", is_flag=True, help="patient cannot enter a PIN")
    @click.option("--reason", default="", help="why no PIN (PIN-less path)")
    @click.option(
        "--device-dir",
        default=lambda: os.environ.get("EMS_DEVICE_DIR", ""),
        help="tablet device key",
    )
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def identify(
        reader: CardReader,
        transport_id: int,
        server: str,
        api_token: str,
        pinless: bool,
        reason: str,
        device_dir: str,
        as_json: bool,
    ) -> None:
        """Identify the patient of a transport and show their history."""
        api = HttpApi(server, api_token)
        try:
            if pinless:
                if not click.confirm("Face matches the card photo?", default=False):
                    raise click.ClickException("face_match_required: confirm the face match first")
                view = identify_without_pin(
                    api=api,
                    reader=reader,
                    device=DeviceKey.load(device_dir),
                    transport_id=transport_id,
                    reason=reason or click.prompt("Reason (e.g. 意識障害)"),
                    face_match_confirmed=True,
                )
            else:
                pin = click.prompt("PIN (4 digits)", hide_input=True)
                view = identify_with_pin(api=api, reader=reader, transport_id=transport_id, pin=pin)
        except CardError as err:
            raise click.ClickException(f"{err.code}: {err}") from None
        except ServerError as err:
            raise click.ClickException(f"{err.code}: {err}") from None
        if as_json:
            click.echo(json.dumps(view, ensure_ascii=False, indent=1))
        else:
            _print_record(view)
