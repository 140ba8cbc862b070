"""The mock cards' store: the SO PIN of every card stays with the issuer, the PIN
rules are the contracts' (``ems_contracts.card``), and a store opened without the
issuer's secrets can be read but issues nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from card_issuer.errors import IssuerError
from card_issuer.tokens import CardStore
from ems_contracts.card import MAX_PIN_TRIES
from tests.ems.cards.helpers import make_token_card, new_issuer


def test_the_so_pin_stays_with_the_issuer(tmp_path: Path) -> None:
    issuer = new_issuer(tmp_path / "issuer")
    store = CardStore(tmp_path / "cards", so_pin_file=issuer.so_pin_path)
    card = make_token_card(issuer, store, "MNSO0001")
    pins = json.loads(issuer.so_pin_path.read_text())
    assert list(pins) == ["MNSO0001"]
    assert issuer.so_pin_path.stat().st_mode & 0o777 == 0o600
    so_pin = pins["MNSO0001"].encode()
    in_store = [p for p in store.directory.rglob("*") if p.is_file()]
    assert in_store and not [p for p in in_store if so_pin in p.read_bytes()]
    # The tablet's view of the same store needs none of it.
    reader = CardStore(store.directory).reader(card.serial)
    assert reader.read_certificate() == card.der
    assert reader.pin_status().tries_left == MAX_PIN_TRIES


def test_a_store_without_the_issuers_secrets_issues_nothing(tmp_path: Path) -> None:
    with pytest.raises(IssuerError) as err:
        CardStore(tmp_path / "cards").create_card("MNX0001", pin="1234")
    assert err.value.code == "so_pins_missing"
    with pytest.raises(IssuerError) as err:
        CardStore(tmp_path / "cards", so_pin_file=tmp_path / "cards" / "pins.json")
    assert err.value.code == "so_pins_in_store"


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "1234\n", ""])
def test_a_pin_of_the_wrong_form_makes_no_card(tmp_path: Path, pin: str) -> None:
    store = CardStore(tmp_path / "cards", so_pin_file=tmp_path / "issuer" / "so-pins.json")
    with pytest.raises(IssuerError) as err:
        store.create_card("MNPIN0001", pin=pin)
    assert err.value.code == "pin_format"
    with pytest.raises(IssuerError) as err:
        store.unlock("MNPIN0001", new_pin=pin)
    assert err.value.code == "pin_format"
    assert not (tmp_path / "issuer" / "so-pins.json").exists()
