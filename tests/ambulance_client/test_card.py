"""The tablet's card code against real SoftHSM2 tokens: reading without PIN, the
wrong-PIN counter and lock, and the whole identification through the server API."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ambulance_client.card import (
    CardError,
    attestation_message,
    fetch_record,
    identify_with_pin,
)
from card_issuer.ca import Issuer
from card_issuer.tokens import CardStore
from ems.cards import identification
from tests.ems.cards import conftest as card_fixtures
from tests.ems.cards.conftest import World
from tests.ems.cards.helpers import PIN, IssuedCard, make_token_card

# The card fixtures of the server tests: the mock issuer and the server's PKI_DIR it
# publishes to, a card store, a transport with its crew.
app_config = card_fixtures.app_config
card_pki = card_fixtures.card_pki
issuer = card_fixtures.issuer
card_store = card_fixtures.card_store
good_card = card_fixtures.good_card
world = card_fixtures.world


class ClientApi:
    """The tablet's ServerApi over Flask's test client."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resp = self.client.post(path, json=body, headers=self.headers)
        return resp.status_code, resp.get_json()

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        resp = self.client.get(path, headers=self.headers)
        return resp.status_code, resp.get_json()


@pytest.fixture(scope="module")
def lock_card(issuer: Issuer, card_store: CardStore) -> IssuedCard:
    return make_token_card(issuer, card_store, "MNLOCK0001")


def test_the_certificate_is_read_without_pin(good_card: IssuedCard) -> None:
    assert good_card.reader().read_certificate() == good_card.der
    assert good_card.reader().pin_status().tries_left == 3


def test_the_key_never_leaves_the_card(good_card: IssuedCard) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    token = good_card.store._token(good_card.serial)
    with token.open(user_pin=PIN) as session:
        key = next(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.LOCAL] is True  # generated on the token
        with pytest.raises(pkcs11.PKCS11Error):
            key[Attribute.PRIVATE_EXPONENT]


def test_three_wrong_pins_lock_the_card_until_the_issuer_unlocks_it(lock_card: IssuedCard) -> None:
    reader = lock_card.reader()
    with pytest.raises(CardError) as err:
        reader.sign(b"x", "12")
    assert err.value.code == "pin_format"  # never sent to the card: costs no try
    for left in (2, 1):
        with pytest.raises(CardError) as err:
            reader.sign(b"x", "9999")
        assert (err.value.code, err.value.tries_left) == ("wrong_pin", left)
    with pytest.raises(CardError) as err:
        reader.sign(b"x", "9999")
    assert (err.value.code, err.value.tries_left) == ("card_locked", 0)
    with pytest.raises(CardError) as err:
        reader.sign(b"x", PIN)  # the right PIN no longer helps
    assert err.value.code == "card_locked"
    assert reader.pin_status().locked
    lock_card.store.unlock(lock_card.serial, new_pin="2468")
    assert reader.pin_status().tries_left == 3
    assert len(reader.sign(b"x", "2468")) == 256
    with pytest.raises(CardError):
        reader.sign(b"x", PIN)
    reader.sign(b"x", "2468")  # a success resets the counter
    assert reader.pin_status().tries_left == 3


def test_a_correct_pin_resets_the_counter(good_card: IssuedCard) -> None:
    reader = good_card.reader()
    with pytest.raises(CardError):
        reader.sign(b"x", "0000")
    assert reader.pin_status().tries_left == 2
    reader.sign(b"x", PIN)
    assert reader.pin_status().tries_left == 3


def test_tablet_and_server_sign_the_same_attestation() -> None:
    nonce = b"\x01" * 32
    args: dict[str, Any] = dict(
        challenge_id="c1",
        transport_id=4,
        card_certificate_der=b"der",
        reason="意識障害",
        face_match_confirmed=True,
    )
    assert attestation_message(nonce_b64=base64.b64encode(nonce).decode(), **args) == (
        identification.attestation_message(nonce=nonce, **args)
    )


def test_identify_with_pin_end_to_end(
    world: World, client: FlaskClient, tmp_path: Path, monkeypatch: Any
) -> None:
    workdir = tmp_path / "tablet"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    api = ClientApi(client, world.crew.token)
    view = identify_with_pin(
        api=api, reader=world.card.reader(), transport_id=world.transport_id, pin=PIN
    )
    assert view["assurance"] == "pin"
    assert view["summary"]["patient"]["name"] == "山田 太郎"
    assert fetch_record(api=api, transport_id=world.transport_id)["patient_id"] == world.patient_id
    assert list(workdir.iterdir()) == []  # nothing of the record written where the tablet runs


def test_a_wrong_pin_on_the_tablet_reaches_the_audit_log(world: World, client: FlaskClient) -> None:
    from sqlalchemy import select

    from ems.audit.models import AuditEntry
    from ems.db import get_db

    api = ClientApi(client, world.crew.token)
    with pytest.raises(CardError) as err:
        identify_with_pin(
            api=api, reader=world.card.reader(), transport_id=world.transport_id, pin="0000"
        )
    assert err.value.tries_left == 2
    world.card.reader().sign(b"reset", PIN)
    with world.app.app_context(), get_db(world.app).session_scope() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "card_auth.pin"))
        assert entry is not None and entry.outcome == "denied"
        assert entry.patient_id == world.patient_id and entry.detail["tries_left"] == 2
