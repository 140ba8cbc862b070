"""The medical-record store: FHIR R4 Bundles, validated, encrypted at rest, summarised.

A stand-in for Japan's online qualification confirmation system (オンライン資格確認).
Bundles are validated with fhir.resources' R4B models (R4B is the R4-compatible
release it ships) and limited to the resource types a crew needs. They are
encrypted with AES-256-GCM under ``Config.RECORD_ENCRYPTION_KEY``
(``keyid:base64key[,keyid:base64key…]``: the first key encrypts, every key
decrypts), bound to their patient by the associated data so that ciphertexts
cannot be swapped between rows.

``summarize`` is pure: allergies and medication first (what can kill in the
ambulance), then conditions, surgeries, recent check-up results and recent visits.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ems.errors import ConfigError, EmsError, ValidationFailed

ALLOWED_RESOURCES = frozenset(
    {
        "Patient",
        "AllergyIntolerance",
        "MedicationStatement",
        "Condition",
        "Procedure",
        "Observation",
        "Encounter",
    }
)
MAX_BUNDLE_BYTES = 512 * 1024
RECENT_OBSERVATIONS = 8
RECENT_ENCOUNTERS = 5
HISTORY_YEARS = 5  # マイナ救急 shows five years of visits


# --- encryption ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class RecordCipher:
    """AES-256-GCM with a keyring for rotation."""

    def __init__(self, spec: str) -> None:
        self.keys: dict[str, AESGCM] = {}
        self.current = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key_id, sep, b64 = part.partition(":")
            if not sep or not key_id or len(key_id) > 32:
                raise ConfigError("RECORD_ENCRYPTION_KEY: expected keyid:base64key[,…]")
            try:
                key = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"RECORD_ENCRYPTION_KEY: key {key_id!r} is not base64") from None
            if len(key) != 32:
                raise ConfigError(f"RECORD_ENCRYPTION_KEY: key {key_id!r} must be 32 bytes")
            self.keys[key_id] = AESGCM(key)
            self.current = self.current or key_id
        if not self.current:
            raise ConfigError("RECORD_ENCRYPTION_KEY is empty")

    def seal(self, plaintext: bytes, *, patient_id: int) -> Sealed:
        nonce = os.urandom(12)
        ct = self.keys[self.current].encrypt(nonce, plaintext, _aad(patient_id))
        return Sealed(key_id=self.current, nonce=nonce, ciphertext=ct)

    def open(self, sealed: Sealed, *, patient_id: int) -> bytes:
        aes = self.keys.get(sealed.key_id)
        if aes is None:
            raise EmsError(
                f"the record is encrypted under key {sealed.key_id!r}, which is not configured",
                code="record_key_missing",
                status=500,
            )
        try:
            return aes.decrypt(sealed.nonce, sealed.ciphertext, _aad(patient_id))
        except InvalidTag:
            raise EmsError(
                "the stored record failed its integrity check",
                code="record_corrupt",
                status=500,
            ) from None


def _aad(patient_id: int) -> bytes:
    return f"ems-patient-record:{patient_id}".encode()


def generate_key_spec(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


# --- validation ------------------------------------------------------------------------


def validate_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """Validate a FHIR Bundle; returns its JSON form (as fhir.resources renders it)."""
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValidationFailed("the record must be a FHIR Bundle", code="invalid_fhir_bundle")
    for entry in bundle.get("entry") or []:
        kind = (
            (entry.get("resource") or {}).get("resourceType") if isinstance(entry, dict) else None
        )
        if kind not in ALLOWED_RESOURCES:
            raise ValidationFailed(
                f"resource type {kind!r} is not part of the emergency record",
                code="invalid_fhir_bundle",
            )
    try:
        model = Bundle.model_validate(bundle)
    except Exception as exc:  # pydantic's ValidationError and fhir.resources' KeyErrors alike
        lines = str(exc).splitlines()
        where = lines[1].strip() if len(lines) > 1 else lines[0] if lines else type(exc).__name__
        raise ValidationFailed(
            f"the bundle is not valid FHIR (at {where[:200]})", code="invalid_fhir_bundle"
        ) from None
    out: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True))
    if len(json.dumps(out)) > MAX_BUNDLE_BYTES:
        raise ValidationFailed("the bundle is too large", code="invalid_fhir_bundle")
    return out


def dump_bundle(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()


def load_bundle(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(data)
    return out


# --- summary ---------------------------------------------------------------------------


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _code(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _date(value: Any) -> str:
    return str(value)[:10] if value else ""


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == kind
    ]


def _age(birth: str, today: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(birth[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _quantity(obs: dict[str, Any]) -> str:
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and "value" in q:
        return f"{q['value']} {q.get('unit', '')}".strip()
    if obs.get("valueString"):
        return str(obs["valueString"])
    if obs.get("valueCodeableConcept"):
        return _text(obs["valueCodeableConcept"])
    parts = [
        f"{_text(c.get('code'))} {c['valueQuantity'].get('value')}".strip()
        for c in obs.get("component") or []
        if isinstance(c.get("valueQuantity"), dict)
    ]
    return " / ".join(parts)


def summarize(bundle: dict[str, Any], *, today: dt.date | None = None) -> dict[str, Any]:
    """What the crew and the ER read first, in the order that matters for treatment."""
    today = today or dt.date.today()
    patient = next(iter(_resources(bundle, "Patient")), {})
    name: dict[str, Any] = next(iter(patient.get("name") or []), {})
    display = (
        name.get("text") or " ".join([name.get("family", ""), *(name.get("given") or [])]).strip()
    )
    birth = str(patient.get("birthDate", ""))

    allergies = [
        {
            "substance": _text(a.get("code")),
            "criticality": a.get("criticality", ""),
            "reactions": [
                _text(m)
                for r in a.get("reaction") or []
                for m in r.get("manifestation") or []
                if _text(m)
            ],
            "status": _code(a.get("clinicalStatus")) or "active",
        }
        for a in _resources(bundle, "AllergyIntolerance")
        if _code(a.get("clinicalStatus")) not in ("inactive", "resolved")
    ]
    allergies.sort(key=lambda a: (a["criticality"] != "high", a["substance"]))

    medications = [
        {
            "medication": _text(m.get("medicationCodeableConcept"))
            or str((m.get("medicationReference") or {}).get("display", "")),
            "dosage": "; ".join(d.get("text", "") for d in m.get("dosage") or [] if d.get("text")),
            "status": m.get("status", ""),
            "since": _date(
                (m.get("effectivePeriod") or {}).get("start") or m.get("effectiveDateTime")
            ),
        }
        for m in _resources(bundle, "MedicationStatement")
        if m.get("status") in ("active", "intended", "on-hold", None, "")
    ]

    conditions = [
        {
            "condition": _text(c.get("code")),
            "status": _code(c.get("clinicalStatus")),
            "onset": _date(c.get("onsetDateTime") or (c.get("onsetPeriod") or {}).get("start")),
        }
        for c in _resources(bundle, "Condition")
    ]
    conditions.sort(
        key=lambda c: (c["status"] not in ("active", "recurrence", "relapse"), c["onset"])
    )

    surgeries = sorted(
        (
            {
                "procedure": _text(p.get("code")),
                "date": _date(
                    p.get("performedDateTime") or (p.get("performedPeriod") or {}).get("start")
                ),
                "status": p.get("status", ""),
            }
            for p in _resources(bundle, "Procedure")
        ),
        key=lambda p: p["date"],
        reverse=True,
    )

    cutoff = (today - dt.timedelta(days=365 * HISTORY_YEARS)).isoformat()
    observations = sorted(
        (
            {
                "observation": _text(o.get("code")),
                "value": _quantity(o),
                "date": _date(o.get("effectiveDateTime") or o.get("issued")),
                "interpretation": " ".join(_text(i) for i in o.get("interpretation") or []),
            }
            for o in _resources(bundle, "Observation")
        ),
        key=lambda o: o["date"],
        reverse=True,
    )
    observations = [o for o in observations if not o["date"] or o["date"] >= cutoff]

    encounters = sorted(
        (
            {
                "date": _date((e.get("period") or {}).get("start")),
                "kind": str(
                    (e.get("class") or {}).get("display") or (e.get("class") or {}).get("code", "")
                ),
                "reason": "; ".join(_text(r) for r in e.get("reasonCode") or []),
                "provider": str((e.get("serviceProvider") or {}).get("display", "")),
            }
            for e in _resources(bundle, "Encounter")
        ),
        key=lambda e: e["date"],
        reverse=True,
    )
    encounters = [e for e in encounters if not e["date"] or e["date"] >= cutoff]

    return {
        "patient": {
            "name": display,
            "birth_date": birth,
            "age": _age(birth, today) if birth else None,
            "sex": patient.get("gender", ""),
        },
        "allergies": allergies,
        "medications": medications,
        "conditions": conditions,
        "surgeries": surgeries,
        "observations": observations[:RECENT_OBSERVATIONS],
        "encounters": encounters[:RECENT_ENCOUNTERS],
    }
