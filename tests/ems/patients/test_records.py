"""The record store: encryption with rotation, FHIR validation and the summary order."""

from __future__ import annotations

import datetime as dt

import pytest

from ems.cards.demo import demo_bundles
from ems.errors import ConfigError, EmsError, ValidationFailed
from ems.patients.records import RecordCipher, generate_key_spec, summarize, validate_bundle


def test_records_round_trip_and_old_keys_still_decrypt_after_rotation() -> None:
    old = generate_key_spec("2025")
    plain = b'{"allergy": "penicillin"}'
    sealed = RecordCipher(old).seal(plain, patient_id=7)
    # A distinctive 10-byte string: a one-byte check would match random bytes by chance.
    assert b"penicillin" not in sealed.ciphertext
    rotated = RecordCipher(f"{generate_key_spec('2026')},{old}")
    assert rotated.open(sealed, patient_id=7) == plain
    assert rotated.seal(b"y", patient_id=7).key_id == "2026"


def test_a_ciphertext_moved_to_another_patient_or_tampered_with_is_refused() -> None:
    cipher = RecordCipher(generate_key_spec())
    sealed = cipher.seal(b"secret", patient_id=1)
    with pytest.raises(EmsError) as err:
        cipher.open(sealed, patient_id=2)
    assert err.value.code == "record_corrupt"
    unknown = RecordCipher(generate_key_spec("other"))
    with pytest.raises(EmsError) as err:
        unknown.open(sealed, patient_id=1)
    assert err.value.code == "record_key_missing"


@pytest.mark.parametrize("spec", ["", "nokey", "k1:not-base64!", "k1:c2hvcnQ="])
def test_a_bad_key_setting_stops_with_a_clear_message(spec: str) -> None:
    with pytest.raises(ConfigError):
        RecordCipher(spec)


def test_only_valid_fhir_bundles_of_the_emergency_resource_types_are_stored() -> None:
    assert validate_bundle(demo_bundles()[0])["resourceType"] == "Bundle"
    bad_type = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Claim"}}],
    }
    invalid = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "birthDate": "not-a-date"}}],
    }
    for bundle in (bad_type, invalid, {"resourceType": "Patient"}):
        with pytest.raises(ValidationFailed) as err:
            validate_bundle(bundle)
        assert err.value.code == "invalid_fhir_bundle"


def test_the_summary_puts_allergies_and_medication_first() -> None:
    summary = summarize(validate_bundle(demo_bundles()[0]), today=dt.date.today())
    assert list(summary)[:3] == ["patient", "allergies", "medications"]
    assert summary["patient"]["name"] == "山田 太郎"
    assert summary["allergies"][0]["substance"] == "ペニシリン系抗菌薬"
    assert summary["allergies"][0]["criticality"] == "high"
    assert any("ワルファリン" in m["medication"] for m in summary["medications"])
    assert {c["condition"] for c in summary["conditions"]} >= {"高血圧症", "心房細動"}
    assert summary["observations"][0]["date"] >= summary["observations"][-1]["date"]


def test_the_summary_lists_surgeries_newest_first() -> None:
    summary = summarize(validate_bundle(demo_bundles()[2]))
    assert "PCI" in summary["surgeries"][0]["procedure"]
