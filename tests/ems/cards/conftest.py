"""Card fixtures: one mock issuer, the server's PKI_DIR it publishes to (certificates
and CRLs only) and a few real SoftHSM2 cards per test session (token and key
generation cost time), and per test a transport with its crew and a patient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from card_issuer.ca import Issuer
from card_issuer.tokens import CardStore
from ems.auth.models import Role
from tests.ems.cards.helpers import (
    IssuedCard,
    make_token_card,
    make_transport,
    new_issuer,
    register_patient,
)
from tests.factories import Api, make_hospital, make_unit


@pytest.fixture(scope="session")
def card_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's PKI_DIR: what the issuer publishes, and nothing else."""
    return tmp_path_factory.mktemp("card-pki")


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory, card_pki: Path) -> Issuer:
    """The mock issuer that mints the test cards; its keys stay in its own directory."""
    return new_issuer(tmp_path_factory.mktemp("card-issuer"), publish_to=card_pki)


@pytest.fixture(scope="session")
def card_store(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> CardStore:
    store = CardStore(tmp_path_factory.mktemp("card-store"), so_pin_file=issuer.so_pin_path)
    store.ensure()
    return store


@pytest.fixture(scope="session")
def good_card(issuer: Issuer, card_store: CardStore) -> IssuedCard:
    return make_token_card(issuer, card_store, "MNTEST0001")


@pytest.fixture
def app_config(app_config: dict[str, Any], card_pki: Path, issuer: Issuer) -> dict[str, Any]:
    # The issuer is asked for first, so that PKI_DIR holds its certificates and CRLs.
    return {**app_config, "PKI_DIR": str(card_pki)}


@dataclass
class World:
    app: Flask
    unit_id: int
    other_unit_id: int
    hospital_id: int
    transport_id: int
    crew: Api
    patient_id: int
    card: IssuedCard


@pytest.fixture
def world(app: Flask, as_role: Callable[..., Api], good_card: IssuedCard) -> World:
    unit_id = make_unit(app, call_sign="中央1")
    other_unit_id = make_unit(app, call_sign="北2")
    hospital_id = make_hospital(app)
    transport_id = make_transport(app, unit_id)
    crew = as_role(Role.PARAMEDIC, unit_id=unit_id)
    patient_id = register_patient(app, good_card.cert, good_card.serial)
    return World(
        app=app,
        unit_id=unit_id,
        other_unit_id=other_unit_id,
        hospital_id=hospital_id,
        transport_id=transport_id,
        crew=crew,
        patient_id=patient_id,
        card=good_card,
    )
