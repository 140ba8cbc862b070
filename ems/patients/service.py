"""The record store: a patient's FHIR Bundle validated, sealed under the current key
and opened again; re-encryption when the key rotates.

Reading a record here is not yet releasing it: who may read it, and the audit
entry of each read, are ``ems.cards.releases``. Cards are linked to a patient by
``ems.cards.service``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ems.db import utcnow
from ems.errors import NotFound
from ems.patients import records
from ems.patients.models import Patient, PatientRecord
from ems.patients.records import RecordCipher, Sealed


def require_patient(*, session: Session, patient_id: int) -> None:
    if session.get(Patient, patient_id) is None:
        raise NotFound(f"patient {patient_id} does not exist", code="patient_not_found")


def create_patient(*, session: Session, cipher: RecordCipher, bundle: dict[str, Any]) -> Patient:
    valid = records.validate_bundle(bundle)
    patient = Patient()
    session.add(patient)
    session.flush()
    sealed = cipher.seal(records.dump_bundle(valid), patient_id=patient.id)
    session.add(
        PatientRecord(
            patient_id=patient.id,
            ciphertext=sealed.ciphertext,
            nonce=sealed.nonce,
            key_id=sealed.key_id,
        )
    )
    session.flush()
    return patient


def replace_record(
    *, session: Session, cipher: RecordCipher, patient_id: int, bundle: dict[str, Any]
) -> PatientRecord:
    row = _record_row(session=session, patient_id=patient_id)
    valid = records.validate_bundle(bundle)
    _seal_into(cipher=cipher, row=row, plain=records.dump_bundle(valid))
    row.updated_at = utcnow()
    session.flush()
    return row


def _record_row(*, session: Session, patient_id: int) -> PatientRecord:
    row = session.scalar(select(PatientRecord).where(PatientRecord.patient_id == patient_id))
    if row is None:
        raise NotFound(f"patient {patient_id} has no record", code="record_not_found")
    return row


def _open_row(*, cipher: RecordCipher, row: PatientRecord) -> bytes:
    return cipher.open(
        Sealed(key_id=row.key_id, nonce=row.nonce, ciphertext=row.ciphertext),
        patient_id=row.patient_id,
    )


def _seal_into(*, cipher: RecordCipher, row: PatientRecord, plain: bytes) -> None:
    sealed = cipher.seal(plain, patient_id=row.patient_id)
    row.ciphertext, row.nonce, row.key_id = sealed.ciphertext, sealed.nonce, sealed.key_id


def read_bundle(*, session: Session, cipher: RecordCipher, patient_id: int) -> dict[str, Any]:
    row = _record_row(session=session, patient_id=patient_id)
    return records.load_bundle(_open_row(cipher=cipher, row=row))


def rotate_records(*, session: Session, cipher: RecordCipher) -> int:
    """Re-encrypt every record not under the current key; returns how many."""
    count = 0
    for row in session.scalars(select(PatientRecord).where(PatientRecord.key_id != cipher.current)):
        _seal_into(cipher=cipher, row=row, plain=_open_row(cipher=cipher, row=row))
        count += 1
    session.flush()
    return count
