"""The CRL high-water mark: an older CRL file never brings revoked cards back, not in
a restarted server nor in another worker that never read the newer CRL, because the
newest CRL read of each CA is recorded in the database and only ever raised."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from flask import Flask
from sqlalchemy import select

from card_issuer import service as issuance
from card_issuer.ca import Issuer
from ems.cards import pki, service
from ems.cards.models import CrlHighWater
from ems.db import get_db
from tests.ems.cards.conftest import World
from tests.ems.cards.helpers import new_issuer, register_patient, soft_card
from tests.ems.cards.test_api import assert_refused, challenge, verify


def _marks_on_record(app: Flask) -> dict[str, tuple[int, dt.datetime, str]]:
    with app.app_context(), get_db(app).session_scope() as s:
        return {
            r.ca: (r.crl_number, r.this_update, r.crl_sha256)
            for r in s.scalars(select(CrlHighWater))
        }


def _read_crl(app: Flask, anchors: pki.TrustAnchors) -> x509.CertificateRevocationList:
    """One server process reading the card CA's CRL, in a transaction of its own."""
    with app.app_context(), get_db(app).session_scope() as s:
        return anchors.crl(pki.CARD_CA, marks=service.SessionCrlMarks(s))


def _verify_code(app: Flask, anchors: pki.TrustAnchors, cert: x509.Certificate) -> str:
    with app.app_context(), get_db(app).session_scope() as s:
        try:
            anchors.verify(cert, ca=pki.CARD_CA, crl_marks=service.SessionCrlMarks(s))
        except pki.CardAuthRefused as err:
            return err.code
    return "verified"


def _plant(server: Path, crl_pem: bytes) -> None:
    """Put a CRL file into PKI_DIR as the issuer would (a new file, renamed over)."""
    target = pki.crl_path(server, pki.CARD_CA)
    replacement = target.with_suffix(".tmp")
    replacement.write_bytes(crl_pem)
    replacement.replace(target)


def test_a_restarted_server_refuses_a_crl_older_than_one_another_process_read(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    card = soft_card(issuer, "MNMARK")
    before_revocation = pki.crl_path(server, pki.CARD_CA).read_bytes()
    issuer.revoke(ca=pki.CARD_CA, name="MNMARK")
    issuer.publish(server)
    newer = pki.crl_path(server, pki.CARD_CA).read_bytes()
    # One worker reads the CRL that revokes the card.
    assert _verify_code(app, pki.TrustAnchors.load(server), card.cert) == "certificate_revoked"

    # Someone puts back the CRL from before the revocation (genuine, still valid); a
    # restarted server (or a worker that never read the newer CRL) starts from nothing.
    _plant(server, before_revocation)
    assert pki.TrustAnchors.load(server).verify(card.cert, ca=pki.CARD_CA) is card.cert, (
        "without the mark on record, the old file would let the revoked card through"
    )
    restarted = pki.TrustAnchors.load(server)
    caplog.set_level(logging.WARNING, logger="ems.cards")
    with (
        app.app_context(),
        get_db(app).session_scope() as s,
        pytest.raises(pki.CardAuthRefused) as err,
    ):
        restarted.verify(card.cert, ca=pki.CARD_CA, crl_marks=service.SessionCrlMarks(s))
    assert (err.value.code, err.value.status) == ("revocation_unknown", 503)
    assert "older than one already seen" in str(err.value)
    warning = next(r for r in caplog.records if "older than the newest" in r.getMessage())
    assert warning.levelno == logging.WARNING
    assert (warning.__dict__["ca"], warning.__dict__["crl_number"]) == (pki.CARD_CA, 1)
    assert warning.__dict__["seen_crl_number"] == 2
    # Nothing of the card or the CRL's content goes into the log.
    assert "MNMARK" not in caplog.text and base64.b64encode(newer[:64]).decode() not in caplog.text
    # Refused again from memory, and the mark stayed where it was.
    assert _verify_code(app, restarted, card.cert) == "revocation_unknown"
    assert _marks_on_record(app)[pki.CARD_CA][0] == 2

    # Once the issuer publishes its current CRL again, the card is refused as revoked.
    _plant(server, newer)
    assert _verify_code(app, restarted, card.cert) == "certificate_revoked"


def test_a_newer_crl_raises_the_mark(app: Flask, tmp_path: Path) -> None:
    server = tmp_path / "pki"
    issuer = new_issuer(tmp_path / "issuer", publish_to=server)
    soft_card(issuer, "MNRAISE")
    anchors = pki.TrustAnchors.load(server)
    first = _read_crl(app, anchors)
    number, this_update, sha256 = _marks_on_record(app)[pki.CARD_CA]
    assert (number, this_update) == pki.crl_order(first)
    assert sha256 == anchors.mark_of(pki.CARD_CA, first).sha256

    issuer.revoke(ca=pki.CARD_CA, name="MNRAISE")
    issuer.publish(server)
    # Another worker reads the new CRL: the mark follows it.
    second = _read_crl(app, pki.TrustAnchors.load(server))
    assert pki.crl_order(second) > pki.crl_order(first)
    assert _marks_on_record(app)[pki.CARD_CA][:2] == pki.crl_order(second)
    # The first worker, which still remembers the older CRL, reads the new file too.
    assert pki.crl_order(_read_crl(app, anchors)) == pki.crl_order(second)


def test_the_mark_never_goes_down(app: Flask, tmp_path: Path) -> None:
    issuer = new_issuer(tmp_path / "issuer", publish_to=tmp_path / "pki")
    anchors = pki.TrustAnchors.load(tmp_path / "pki")
    base = anchors.mark_of(pki.CARD_CA, issuer.write_crl(pki.CARD_CA))
    t = base.this_update

    def record(number: int, this_update: dt.datetime) -> tuple[int, dt.datetime]:
        mark = dataclasses.replace(base, number=number, this_update=this_update)
        with app.app_context(), get_db(app).session_scope() as s:
            return service.record_crl_mark(session=s, mark=mark).order

    assert record(5, t) == (5, t)
    assert record(4, t + dt.timedelta(days=1)) == (5, t)  # a lower number, however recent
    assert record(5, t - dt.timedelta(seconds=1)) == (5, t)  # the same number, earlier
    later = t + dt.timedelta(seconds=1)
    assert record(5, later) == (5, later)  # the same number, later
    assert record(6, t) == (6, t)
    assert _marks_on_record(app)[pki.CARD_CA][:2] == (6, t)
    # Each CA has its own mark; the device CA's is untouched.
    assert pki.DEVICE_CA not in _marks_on_record(app)


@pytest.mark.parametrize("first", [7, 3], ids=["higher-first", "lower-first"])
def test_racing_writers_leave_the_higher_mark(app: Flask, tmp_path: Path, first: int) -> None:
    """Two processes recording at once, the first still in its transaction while the
    second writes: whichever order, the higher CRL number is what stays on record."""
    issuer = new_issuer(tmp_path / "issuer", publish_to=tmp_path / "pki")
    anchors = pki.TrustAnchors.load(tmp_path / "pki")
    base = anchors.mark_of(pki.CARD_CA, issuer.write_crl(pki.CARD_CA))
    second = 10 - first
    seen_by_second: list[int] = []

    def second_writer() -> None:
        with app.app_context(), get_db(app).session_scope() as s:
            mark = dataclasses.replace(base, number=second)
            seen_by_second.append(service.record_crl_mark(session=s, mark=mark).number)

    with app.app_context(), get_db(app).session_scope() as s:
        mark = dataclasses.replace(base, number=first)
        assert service.record_crl_mark(session=s, mark=mark).number == first
        racer = threading.Thread(target=second_writer)
        racer.start()
        time.sleep(0.3)  # the second writer is now waiting for the first's transaction
        assert racer.is_alive()
    racer.join(timeout=30)
    assert seen_by_second == [7]
    assert _marks_on_record(app)[pki.CARD_CA][0] == 7


def test_a_mark_raised_by_a_refused_request_outlives_its_rollback(
    world: World, issuer: Issuer, card_pki: Path
) -> None:
    w = world
    card = soft_card(issuer, "MNMARKAPI")
    register_patient(w.app, card.cert, "MNMARKAPI", index=3)
    issuance.revoke_card(issuer=issuer, serial="MNMARKAPI", publish_to=card_pki)
    ch = challenge(w)
    resp = verify(w, ch, cert=card.b64, signature=card.sign(base64.b64decode(ch["nonce"])))
    # The request that read the new CRL is refused (and rolled back) by that very CRL.
    assert_refused(w, resp, "certificate_revoked", 403)
    published = x509.load_pem_x509_crl(pki.crl_path(card_pki, pki.CARD_CA).read_bytes())
    assert _marks_on_record(w.app)[pki.CARD_CA][:2] == pki.crl_order(published)
