"""Every stable error code the server, the relay and the tablet agent send, with its
status and meaning.

A client branches on ``code`` (in a problem+json answer, a relay ``{"type": "error"}``
event or close reason, or an event stream's ``stream.closed``), never on ``detail``.
This registry names them all; docs/api.md's "Error codes" table is ``markdown_table()``,
and tests/ems/test_codes.py keeps the table, this registry and the source equal. The
tablet agent (ambulance_client/) names its codes from here (``ErrorCode.X``, never a
literal), and tests/ambulance_client/test_codes.py holds it to that.
It imports nothing of ours, so the relay and the tablet may use it as a contract.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

# An HTTP status; "ws" for the relay's error events and close reasons; "sse" for the
# event stream's ``stream.closed``; "4xx/5xx" for the status of the HTTP error itself;
# "local" for why the tablet's stream ended, in its agent's ``/local/status``.
type Status = int | Literal["ws", "sse", "4xx/5xx", "local"]


class ErrorCode(enum.StrEnum):
    # --- the request and authentication ----------------------------------------------
    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    MALFORMED_JSON = "malformed_json"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    CONFLICT = "conflict"
    ERROR = "error"
    INTERNAL_ERROR = "internal_error"
    CONFIG_ERROR = "config_error"
    DB_UNAVAILABLE = "db_unavailable"
    RATE_LIMITED = "rate_limited"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_TOKEN = "invalid_token"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_IN_URL = "token_in_url"
    LOGIN_RATE_LIMITED = "login_rate_limited"
    USER_NOT_FOUND = "user_not_found"
    USERNAME_TAKEN = "username_taken"
    UNIT_REQUIRED = "unit_required"
    HOSPITAL_REQUIRED = "hospital_required"
    # --- the access policy -----------------------------------------------------------
    FORBIDDEN = "forbidden"
    ROLE_FORBIDDEN = "role_forbidden"
    OFF_DUTY = "off_duty"
    NOT_YOUR_UNIT = "not_your_unit"
    NOT_YOUR_HOSPITAL = "not_your_hospital"
    NOT_TRANSPORT_CREW = "not_transport_crew"
    NOT_YOURS = "not_yours"
    CREW_ACCESS_ENDED = "crew_access_ended"
    TRANSPORT_ENDED = "transport_ended"
    RECORD_GRACE_EXPIRED = "record_grace_expired"
    RECORD_FORBIDDEN = "record_forbidden"
    BREAK_GLASS_REQUIRED = "break_glass_required"
    CALLER_FORBIDDEN = "caller_forbidden"
    OWN_BREAK_GLASS = "own_break_glass"
    # --- calls and units -------------------------------------------------------------
    INCIDENT_NOT_FOUND = "incident_not_found"
    RECEIVED_AT_IN_FUTURE = "received_at_in_future"
    INCIDENT_NOT_PENDING = "incident_not_pending"
    INCIDENT_IN_PROGRESS = "incident_in_progress"
    INCIDENT_CHANGED = "incident_changed"
    UNIT_NOT_FOUND = "unit_not_found"
    UNIT_UNAVAILABLE = "unit_unavailable"
    UNIT_CHANGED = "unit_changed"
    ILLEGAL_TRANSITION = "illegal_transition"
    USE_TIMELINE = "use_timeline"
    AT_IN_FUTURE = "at_in_future"
    STATION_NOT_FOUND = "station_not_found"
    UNIT_NOT_IDLE = "unit_not_idle"
    STALE_SUGGESTION = "stale_suggestion"
    # --- transports ------------------------------------------------------------------
    TRANSPORT_NOT_FOUND = "transport_not_found"
    TRANSPORT_CLOSED = "transport_closed"
    TRANSPORT_NOT_ACTIVE = "transport_not_active"
    OUT_OF_ORDER = "out_of_order"
    ALREADY_RECORDED = "already_recorded"
    AT_BEFORE_PREVIOUS = "at_before_previous"
    NO_DESTINATION = "no_destination"
    ALREADY_ARRIVED = "already_arrived"
    # --- hospitals and hospital requests ---------------------------------------------
    HOSPITAL_NOT_FOUND = "hospital_not_found"
    EXCEEDS_CAPACITY = "exceeds_capacity"
    DIVERTED_CATEGORIES_REQUIRED = "diverted_categories_required"
    DIVERSION_UNTIL_PAST = "diversion_until_past"
    UNKNOWN_BED_CATEGORY = "unknown_bed_category"
    NO_BED = "no_bed"
    REQUEST_NOT_FOUND = "request_not_found"
    REQUEST_CLOSED = "request_closed"
    ALREADY_PLACED = "already_placed"
    ROUND_OPEN = "round_open"
    NO_CANDIDATES = "no_candidates"
    NO_HOSPITAL_CHOSEN = "no_hospital_chosen"
    HOSPITAL_EXCLUDED = "hospital_excluded"
    LOCKED_HOSPITAL_UNKNOWN = "locked_hospital_unknown"
    DUPLICATE_PATIENT = "duplicate_patient"
    NOT_TIME_CRITICAL = "not_time_critical"
    NO_UNIT_ASSIGNED = "no_unit_assigned"
    ALREADY_ASKED = "already_asked"
    NO_EARLY_ROUND = "no_early_round"
    ASK_AHEAD_SETTLED = "ask_ahead_settled"
    # --- the doctor's instruction ------------------------------------------------------
    UNKNOWN_PROCEDURE = "unknown_procedure"
    INSTRUCTION_NOT_FOUND = "instruction_not_found"
    INSTRUCTION_ANSWERED = "instruction_answered"
    NOT_ON_MC_DUTY = "not_on_mc_duty"
    # --- cards, devices and medical records ------------------------------------------
    CARD_AUTH_REFUSED = "card_auth_refused"
    CARD_AUTH_RATE_LIMITED = "card_auth_rate_limited"
    PKI_NOT_CONFIGURED = "pki_not_configured"
    MALFORMED_BASE64 = "malformed_base64"
    MALFORMED_PEM = "malformed_pem"
    MALFORMED_DER = "malformed_der"
    CHALLENGE_NOT_FOUND = "challenge_not_found"
    CHALLENGE_TRANSPORT_MISMATCH = "challenge_transport_mismatch"
    CHALLENGE_OTHER_USER = "challenge_other_user"
    CHALLENGE_USED = "challenge_used"
    CHALLENGE_EXPIRED = "challenge_expired"
    CARD_UNKNOWN = "card_unknown"
    UNTRUSTED_CERTIFICATE = "untrusted_certificate"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_EXPIRED = "certificate_expired"
    WRONG_KEY_USAGE = "wrong_key_usage"
    CERTIFICATE_REVOKED = "certificate_revoked"
    REVOCATION_UNKNOWN = "revocation_unknown"
    BAD_SIGNATURE = "bad_signature"
    FACE_MATCH_REQUIRED = "face_match_required"
    UNTRUSTED_DEVICE = "untrusted_device"
    DEVICE_CERTIFICATE_NOT_YET_VALID = "device_certificate_not_yet_valid"
    DEVICE_CERTIFICATE_EXPIRED = "device_certificate_expired"
    DEVICE_WRONG_KEY_USAGE = "device_wrong_key_usage"
    DEVICE_CERTIFICATE_REVOKED = "device_certificate_revoked"
    DEVICE_REVOCATION_UNKNOWN = "device_revocation_unknown"
    DEVICE_UNIT_MISMATCH = "device_unit_mismatch"
    BAD_ATTESTATION = "bad_attestation"
    TRANSPORT_PATIENT_MISMATCH = "transport_patient_mismatch"
    PATIENT_NOT_FOUND = "patient_not_found"
    RECORD_NOT_FOUND = "record_not_found"
    RECORD_NOT_RELEASED = "record_not_released"
    INVALID_FHIR_BUNDLE = "invalid_fhir_bundle"
    RECORD_KEY_MISSING = "record_key_missing"
    RECORD_CORRUPT = "record_corrupt"
    BREAK_GLASS_NOT_FOUND = "break_glass_not_found"
    RELEASE_NOT_FOUND = "release_not_found"
    NOT_PENDING_REVIEW = "not_pending_review"
    CARD_EXISTS = "card_exists"
    DEVICE_EXISTS = "device_exists"
    # --- idempotency -----------------------------------------------------------------
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    # --- the event stream ------------------------------------------------------------
    ACCESS_CHANGED = "access_changed"
    TOO_MANY_STREAMS = "too_many_streams"
    STREAM_CAPACITY = "stream_capacity"
    # --- the stream relay ------------------------------------------------------------
    RELAY_UNAVAILABLE = "relay_unavailable"
    ACCESS_REVOKED = "access_revoked"
    TRUNCATED_FRAME = "truncated_frame"
    MALFORMED_FRAME = "malformed_frame"
    UNSUPPORTED_VERSION = "unsupported_version"
    FRAME_TOO_LARGE = "frame_too_large"
    WRONG_TRANSPORT = "wrong_transport"
    INVALID_PAYLOAD = "invalid_payload"
    MALFORMED_MESSAGE = "malformed_message"
    VIEWERS_CANNOT_PUBLISH = "viewers_cannot_publish"
    WRONG_FRAME_KIND = "wrong_frame_kind"
    TRANSPORT_COMPLETED = "transport_completed"
    TRANSPORT_CANCELLED = "transport_cancelled"
    BUSY = "busy"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    # --- the edges: logins, card events, metrics, relay capacity ---------------------
    ACCOUNT_LOCKED = "account_locked"
    CARD_EVENT_RATE_LIMITED = "card_event_rate_limited"
    METRICS_TOKEN_REQUIRED = "metrics_token_required"
    RELAY_FULL = "relay_full"
    # --- the tablet agent: its local API (/local/*) and the page's proxy (/api/*) ------
    WRONG_HOST = "wrong_host"
    CROSS_ORIGIN = "cross_origin"
    TABLET_TOKEN_REQUIRED = "tablet_token_required"
    TABLET_OTHER_UNIT = "tablet_other_unit"
    TABLET_PARAMEDICS_ONLY = "tablet_paramedics_only"
    VALIDATION_FAILED = "validation_failed"
    OFFLINE = "offline"
    BAD_GATEWAY = "bad_gateway"
    STREAM_FAILED = "stream_failed"
    INVALID_RELAY_URL = "invalid_relay_url"
    # --- the tablet's card reader --------------------------------------------------------
    WRONG_PIN = "wrong_pin"
    PIN_FORMAT = "pin_format"
    CARD_LOCKED = "card_locked"
    NO_CARD = "no_card"
    NO_READER = "no_reader"
    CARD_UNREADABLE = "card_unreadable"
    DEVICE_KEY_MISSING = "device_key_missing"
    DEVICE_KEY_INVALID = "device_key_invalid"


@dataclass(frozen=True)
class CodeInfo:
    """How a code reaches a client and what it tells them."""

    statuses: tuple[Status, ...]
    meaning: str

    @property
    def status(self) -> str:
        return ", ".join(str(s) for s in self.statuses)


C = ErrorCode

# In the order of the table in docs/api.md. A code the relay sends as well as the API
# (a policy refusal when a stream connects) lists "ws" after its HTTP status.
REGISTRY: dict[ErrorCode, CodeInfo] = {
    # The request and authentication.
    C.BAD_REQUEST: CodeInfo(
        (400,), "The HTTP request could not be read (refused before any endpoint ran)."
    ),
    C.VALIDATION_ERROR: CodeInfo(
        (400,),
        "The body or query does not match the schema (wrong type, out-of-range value, "
        "unknown field); `errors` lists each problem.",
    ),
    C.MALFORMED_JSON: CodeInfo((400,), "The body is not valid JSON, or is nested too deeply."),
    C.VALUE_OUT_OF_RANGE: CodeInfo(
        (400,),
        "A value passed the schema but cannot be stored (an id beyond the integer range, "
        "a NUL byte in text).",
    ),
    C.UNSUPPORTED_MEDIA_TYPE: CodeInfo(
        (415,), "The body is not sent as `Content-Type: application/json`."
    ),
    C.PAYLOAD_TOO_LARGE: CodeInfo(
        (413,), "The body, or a certificate or signature in it, is over its size limit."
    ),
    C.NOT_FOUND: CodeInfo((404,), "No endpoint has this path."),
    C.METHOD_NOT_ALLOWED: CodeInfo((405,), "The endpoint does not take this HTTP method."),
    C.HTTP_ERROR: CodeInfo(("4xx/5xx",), "Any other HTTP-level error; the status says which."),
    C.CONFLICT: CodeInfo(
        (409,),
        "The data changed while the request ran, or the write clashes with existing data; "
        "reload and retry.",
    ),
    C.ERROR: CodeInfo(
        (400, "4xx/5xx"),
        "The fallback of an error raised without a code of its own; the server sends none "
        "today. The tablet agent names so a refusal that reached it without a code, with "
        "the status it came with.",
    ),
    C.INTERNAL_ERROR: CodeInfo(
        (500,), "An unexpected server fault; nothing was written. Report it if it persists."
    ),
    C.CONFIG_ERROR: CodeInfo(
        (500,),
        "The server is misconfigured (for example the record encryption key); "
        "an operator must fix it.",
    ),
    C.DB_UNAVAILABLE: CodeInfo(
        (503, "sse"),
        "The database could not be reached; retry. On the event stream: access could "
        "not be checked, reconnect after a short wait.",
    ),
    C.RATE_LIMITED: CodeInfo(
        (429,),
        "Too many requests; wait for `Retry-After`. The server sends one of the "
        "specific codes instead.",
    ),
    C.UNAUTHENTICATED: CodeInfo(
        (401, "ws"),
        "No bearer token was sent (relay: the first message was not a hello with a token).",
    ),
    C.INVALID_TOKEN: CodeInfo(
        (401, "sse", "ws"),
        "The token is unknown, revoked or expired, or the account is disabled; sign in again.",
    ),
    C.INVALID_CREDENTIALS: CodeInfo((401,), "Wrong username or password."),
    C.TOKEN_IN_URL: CodeInfo(
        (401,),
        "A token was sent in the URL (`access_token`); send it in the Authorization header only.",
    ),
    C.LOGIN_RATE_LIMITED: CodeInfo(
        (429,),
        "Too many sign-in attempts for this username from this address; wait a minute.",
    ),
    C.USER_NOT_FOUND: CodeInfo((404,), "No account has this id."),
    C.USERNAME_TAKEN: CodeInfo((409,), "Another account already has this username."),
    C.UNIT_REQUIRED: CodeInfo((400,), "A paramedic account must name its unit."),
    C.HOSPITAL_REQUIRED: CodeInfo((400,), "An ER staff account must name its hospital."),
    # The access policy (ems/access/).
    C.FORBIDDEN: CodeInfo((403,), "Only an administrator may change another account's duty."),
    C.ROLE_FORBIDDEN: CodeInfo((403, "ws"), "Your role may not do this."),
    C.OFF_DUTY: CodeInfo(
        (403, "sse", "ws"),
        "Off-duty staff may read but not change operational data, open the event stream "
        "or publish; on the event stream, the holder went off duty.",
    ),
    C.NOT_YOUR_UNIT: CodeInfo((403, "ws"), "This belongs to another unit's crew."),
    C.NOT_YOUR_HOSPITAL: CodeInfo(
        (403, "ws"), "This patient or request is not addressed to your hospital."
    ),
    C.NOT_TRANSPORT_CREW: CodeInfo((403,), "Only the transport's crew may identify its patient."),
    C.NOT_YOURS: CodeInfo((403,), "None of this call's transports is yours."),
    C.CREW_ACCESS_ENDED: CodeInfo(
        (403,), "The crew's access ended at handover plus the grace period (`RECORD_GRACE_S`)."
    ),
    C.TRANSPORT_ENDED: CodeInfo(
        (403, "ws"), "The transport has ended; this is allowed only while it is active."
    ),
    C.RECORD_GRACE_EXPIRED: CodeInfo(
        (403, "ws"),
        "The transport ended longer ago than the grace period: its records are closed.",
    ),
    C.RECORD_FORBIDDEN: CodeInfo(
        (403, "ws"), "Your role may not read medical data (record, vitals, live stream)."
    ),
    C.BREAK_GLASS_REQUIRED: CodeInfo(
        (403,), "An administrator reads medical data only by break-glass, with a reason."
    ),
    C.CALLER_FORBIDDEN: CodeInfo(
        (403,), "The caller's name, phone and words are for dispatchers and the crew only."
    ),
    C.OWN_BREAK_GLASS: CodeInfo((403,), "Another administrator must review your break-glass read."),
    # Calls and units.
    C.INCIDENT_NOT_FOUND: CodeInfo((404,), "No call has this id."),
    C.RECEIVED_AT_IN_FUTURE: CodeInfo((400,), "`received_at` lies in the future."),
    C.INCIDENT_NOT_PENDING: CodeInfo(
        (409,), "The call is no longer pending (assigned or closed, possibly just now)."
    ),
    C.INCIDENT_IN_PROGRESS: CodeInfo(
        (409,),
        "A crew is already on scene: the call cannot be cancelled, the crew closes it "
        "(unless no hospital is left to ask and no destination is set).",
    ),
    C.INCIDENT_CHANGED: CodeInfo((409,), "The call changed while it was being cancelled; reload."),
    C.UNIT_NOT_FOUND: CodeInfo((404,), "No unit has this id."),
    C.UNIT_UNAVAILABLE: CodeInfo(
        (409,), "The unit is not available (busy, or just dispatched by someone else)."
    ),
    C.UNIT_CHANGED: CodeInfo((409,), "The unit's status changed while the request ran; reload."),
    C.STATION_NOT_FOUND: CodeInfo((404,), "No station has this id."),
    C.UNIT_NOT_IDLE: CodeInfo(
        (409,), "Move-up moves only an available unit; this one is busy or out of service."
    ),
    C.STALE_SUGGESTION: CodeInfo(
        (409,),
        "The move-up suggestion was made for units that have moved or changed status "
        "since, or is no longer suggested; reload the suggestions.",
    ),
    C.ILLEGAL_TRANSITION: CodeInfo(
        (409,), "The unit or call cannot go from its current status to the one asked."
    ),
    C.USE_TIMELINE: CodeInfo(
        (409,),
        "This unit status follows assignment or the transport timeline: record the event "
        "on the transport instead.",
    ),
    C.AT_IN_FUTURE: CodeInfo((400,), "The time given (`at`) lies ahead of the server clock."),
    # Transports.
    C.TRANSPORT_NOT_FOUND: CodeInfo((404, "ws"), "No transport has this id."),
    C.TRANSPORT_CLOSED: CodeInfo(
        (409,), "The transport is completed or cancelled and takes no more changes."
    ),
    C.TRANSPORT_NOT_ACTIVE: CodeInfo(
        (409,), "The transport is completed or cancelled: a card can no longer be read for it."
    ),
    C.OUT_OF_ORDER: CodeInfo(
        (409,), "An earlier timeline step is not recorded yet; `missing` lists them."
    ),
    C.ALREADY_RECORDED: CodeInfo((409,), "This timeline step is already recorded."),
    C.AT_BEFORE_PREVIOUS: CodeInfo(
        (400,), "The time given is earlier than the previous timeline step."
    ),
    C.NO_DESTINATION: CodeInfo(
        (409,), "Set the destination hospital before recording `arrived_hospital`."
    ),
    C.ALREADY_ARRIVED: CodeInfo(
        (409,), "The unit has arrived at a hospital; the destination can no longer change."
    ),
    # Hospitals and hospital requests.
    C.HOSPITAL_NOT_FOUND: CodeInfo((404,), "No hospital has this id (or one of these ids)."),
    C.EXCEEDS_CAPACITY: CodeInfo(
        (400,), "A bed category has more beds available than its capacity."
    ),
    C.DIVERTED_CATEGORIES_REQUIRED: CodeInfo(
        (400,), "A category diversion must name at least one category."
    ),
    C.DIVERSION_UNTIL_PAST: CodeInfo((400,), "`diversion_until` lies in the past."),
    C.UNKNOWN_BED_CATEGORY: CodeInfo((400,), "No bed category has this name."),
    C.NO_BED: CodeInfo((409,), "No bed of this category is known to be free at the hospital."),
    C.REQUEST_NOT_FOUND: CodeInfo((404,), "No hospital request has this id."),
    C.REQUEST_CLOSED: CodeInfo(
        (409,), "The request is no longer open: it was already answered or withdrawn."
    ),
    C.ALREADY_PLACED: CodeInfo((409,), "A hospital has already accepted this patient."),
    C.ROUND_OPEN: CodeInfo(
        (409,), "Requests of this transport are still open; wait for their answers."
    ),
    C.NO_CANDIDATES: CodeInfo((409,), "No hospital is left to ask, or none is open to ambulances."),
    C.NO_HOSPITAL_CHOSEN: CodeInfo(
        (400,), "A round of requests must ask at least one hospital (`hospital_ids` or `k`)."
    ),
    C.HOSPITAL_EXCLUDED: CodeInfo(
        (409,), "Some chosen hospitals cannot take this patient now; `excluded` says why."
    ),
    C.LOCKED_HOSPITAL_UNKNOWN: CodeInfo(
        (400,), "A patient is locked to a hospital that is not in the mass-casualty plan."
    ),
    C.DUPLICATE_PATIENT: CodeInfo((400,), "Patient ids in a mass-casualty plan must be unique."),
    C.NOT_TIME_CRITICAL: CodeInfo(
        (409,),
        "Ask ahead is for a suspected stroke, STEMI, cardiac arrest or major trauma; "
        "`time_critical` lists the conditions.",
    ),
    C.NO_UNIT_ASSIGNED: CodeInfo(
        (409,), "Assign a unit first: early requests are sent while the unit drives."
    ),
    C.ALREADY_ASKED: CodeInfo(
        (409,), "Hospitals have already been asked for this patient (ahead or by the crew)."
    ),
    C.NO_EARLY_ROUND: CodeInfo((409,), "No hospital was asked ahead for this transport."),
    C.ASK_AHEAD_SETTLED: CodeInfo(
        (409,), "The crew has already confirmed or withdrawn the early requests."
    ),
    C.UNKNOWN_PROCEDURE: CodeInfo(
        (400,), "Not one of the specified procedures configured (`INSTRUCTION_PROCEDURES`)."
    ),
    C.INSTRUCTION_NOT_FOUND: CodeInfo((404,), "No request for instruction has this id."),
    C.INSTRUCTION_ANSWERED: CodeInfo(
        (409,), "Another MC doctor has already answered this request (the first answer wins)."
    ),
    C.NOT_ON_MC_DUTY: CodeInfo(
        (403,), "The roster names other MC doctors for this unit now, or the crew has not asked."
    ),
    # Cards, devices and medical records; the last two come from the card issuer's
    # registration of a card or a tablet (python -m card_issuer).
    C.CARD_AUTH_REFUSED: CodeInfo(
        (403,),
        "A card authentication was refused; the server sends one of the specific codes instead.",
    ),
    C.CARD_AUTH_RATE_LIMITED: CodeInfo(
        (429,), "Too many card reads by this paramedic in a minute; wait for `Retry-After`."
    ),
    C.PKI_NOT_CONFIGURED: CodeInfo(
        (503,),
        "The card issuer has not published its CA certificates into the server's `PKI_DIR`.",
    ),
    C.MALFORMED_BASE64: CodeInfo((400,), "A certificate or signature is empty or not base64."),
    C.MALFORMED_PEM: CodeInfo((400,), "The certificate is not valid PEM."),
    C.MALFORMED_DER: CodeInfo((400,), "The certificate is not valid DER."),
    C.CHALLENGE_NOT_FOUND: CodeInfo((404,), "No card challenge has this id."),
    C.CHALLENGE_TRANSPORT_MISMATCH: CodeInfo(
        (409,), "The challenge was issued for another transport."
    ),
    C.CHALLENGE_OTHER_USER: CodeInfo((403,), "The challenge was issued to someone else."),
    C.CHALLENGE_USED: CodeInfo((409,), "The challenge was already used; ask for a new one."),
    C.CHALLENGE_EXPIRED: CodeInfo((409,), "The challenge expired; ask for a new one."),
    C.CARD_UNKNOWN: CodeInfo((403,), "The card is not registered with a patient."),
    C.UNTRUSTED_CERTIFICATE: CodeInfo(
        (403,),
        "The card certificate is not from the trusted card CA, does not chain to the root, "
        "or has a weak key.",
    ),
    C.CERTIFICATE_NOT_YET_VALID: CodeInfo((403,), "The card certificate is not valid yet."),
    C.CERTIFICATE_EXPIRED: CodeInfo((403,), "The card certificate has expired."),
    C.WRONG_KEY_USAGE: CodeInfo(
        (403,), "The card certificate's key usage does not allow authentication."
    ),
    C.CERTIFICATE_REVOKED: CodeInfo((403,), "The card or its certificate has been revoked."),
    C.REVOCATION_UNKNOWN: CodeInfo(
        (503,), "The card revocation list is missing or invalid; retry later."
    ),
    C.BAD_SIGNATURE: CodeInfo((403,), "The card's signature of the challenge does not verify."),
    C.FACE_MATCH_REQUIRED: CodeInfo(
        (400,), "Without the PIN, the crew must confirm the face matches the card photo."
    ),
    C.UNTRUSTED_DEVICE: CodeInfo(
        (403,), "The tablet is not registered, or its certificate is not from the device CA."
    ),
    C.DEVICE_CERTIFICATE_NOT_YET_VALID: CodeInfo(
        (403,), "The tablet's certificate is not valid yet."
    ),
    C.DEVICE_CERTIFICATE_EXPIRED: CodeInfo((403,), "The tablet's certificate has expired."),
    C.DEVICE_WRONG_KEY_USAGE: CodeInfo(
        (403,), "The tablet certificate's key usage does not allow authentication."
    ),
    C.DEVICE_CERTIFICATE_REVOKED: CodeInfo((403,), "The tablet's certificate is revoked."),
    C.DEVICE_REVOCATION_UNKNOWN: CodeInfo(
        (503,), "The device revocation list is missing or invalid; retry later."
    ),
    C.DEVICE_UNIT_MISMATCH: CodeInfo((403,), "The tablet belongs to another unit."),
    C.BAD_ATTESTATION: CodeInfo(
        (403,), "The tablet's signature of the PIN-less attestation does not verify."
    ),
    C.TRANSPORT_PATIENT_MISMATCH: CodeInfo(
        (409,), "Another patient is already identified on this transport."
    ),
    C.PATIENT_NOT_FOUND: CodeInfo((404,), "No patient has this id."),
    C.RECORD_NOT_FOUND: CodeInfo((404,), "The patient has no stored medical record."),
    C.RECORD_NOT_RELEASED: CodeInfo(
        (404,), "No patient has been identified by card on this transport, so no record is out."
    ),
    C.INVALID_FHIR_BUNDLE: CodeInfo(
        (400,), "The record is not a valid FHIR Bundle of the allowed resources, or too large."
    ),
    C.RECORD_KEY_MISSING: CodeInfo(
        (500,), "The record is encrypted under a key the server is not configured with."
    ),
    C.RECORD_CORRUPT: CodeInfo((500,), "The stored record failed its integrity check."),
    C.BREAK_GLASS_NOT_FOUND: CodeInfo((404,), "No break-glass read has this id."),
    C.RELEASE_NOT_FOUND: CodeInfo((404,), "No record release has this id."),
    C.NOT_PENDING_REVIEW: CodeInfo((409,), "This access is not awaiting review."),
    C.CARD_EXISTS: CodeInfo(
        (409,), "A card with this serial is already registered (the issuer's `issue`)."
    ),
    C.DEVICE_EXISTS: CodeInfo(
        (409,), "A tablet with this name is already registered (the issuer's `issue-device`)."
    ),
    # Idempotency.
    C.INVALID_IDEMPOTENCY_KEY: CodeInfo(
        (400,), "The `Idempotency-Key` is not 1 to 64 of `A-Z a-z 0-9 _ . : -`."
    ),
    C.IDEMPOTENCY_KEY_REUSED: CodeInfo(
        (409, 422),
        "The key was used for another request (422) or another timeline step (409); "
        "pick a new key.",
    ),
    C.IDEMPOTENCY_IN_PROGRESS: CodeInfo(
        (409,), "A request with this key is still being processed; retry with the same key."
    ),
    # The event stream (GET /api/v1/events).
    C.ACCESS_CHANGED: CodeInfo(
        ("sse",), "The holder's role, unit or hospital changed: reconnect with the new audience."
    ),
    C.TOO_MANY_STREAMS: CodeInfo(
        (429,), "You hold as many open event streams as allowed; close a page."
    ),
    C.STREAM_CAPACITY: CodeInfo(
        (429,), "This server process holds as many event streams as it can; retry later."
    ),
    # The stream relay (hospital_gateway/).
    C.RELAY_UNAVAILABLE: CodeInfo(
        ("ws",), "The relay could not check access (database unreachable); reconnect later."
    ),
    C.ACCESS_REVOKED: CodeInfo(
        ("ws",),
        "Your right to this stream ended (signed out, off duty, or the patient left your "
        "hospital); the connection closes.",
    ),
    C.TRUNCATED_FRAME: CodeInfo(("ws",), "A frame is shorter than its header says."),
    C.MALFORMED_FRAME: CodeInfo(
        ("ws",), "A frame has a bad magic, an unknown kind, or a payload that does not parse."
    ),
    C.UNSUPPORTED_VERSION: CodeInfo(("ws",), "The frame's version is not one the relay speaks."),
    C.FRAME_TOO_LARGE: CodeInfo(("ws",), "A frame's payload is over the limit of its kind."),
    C.WRONG_TRANSPORT: CodeInfo(("ws",), "A frame names another transport than the connection's."),
    C.INVALID_PAYLOAD: CodeInfo(
        ("ws",), "A vitals, ECG or note payload is out of range or does not match its schema."
    ),
    C.MALFORMED_MESSAGE: CodeInfo(
        ("ws",),
        "A text message is not one of the relay's control messages (not JSON, an unknown "
        "type, or a field missing, extra or out of range).",
    ),
    C.VIEWERS_CANNOT_PUBLISH: CodeInfo(
        ("ws",), "A viewer sent a binary frame; viewers are read-only."
    ),
    C.WRONG_FRAME_KIND: CodeInfo(
        ("ws",),
        "A frame of a kind this path does not carry: the talk path takes audio only, "
        "and audio goes on the talk path only.",
    ),
    C.TRANSPORT_COMPLETED: CodeInfo(
        ("ws",), "The transport was handed over: only queued records are taken, no video."
    ),
    C.TRANSPORT_CANCELLED: CodeInfo(
        ("ws",), "The transport was cancelled: only queued records are taken, no video."
    ),
    C.BUSY: CodeInfo(
        ("ws",), "Too many records await storage; this one was not acknowledged, resend it."
    ),
    C.STORAGE_UNAVAILABLE: CodeInfo(
        ("ws",), "Records cannot be stored now; keep them until acknowledged, the relay retries."
    ),
    # The edges: logins, card events, metrics and the relay's capacity.
    C.ACCOUNT_LOCKED: CodeInfo(
        (429,),
        "Too many failed sign-ins for this account in a row; wait for `Retry-After` (the "
        "wait doubles with each further failure, up to `LOGIN_LOCKOUT_MAX_S`).",
    ),
    C.CARD_EVENT_RATE_LIMITED: CodeInfo(
        (429,),
        "Too many wrong-PIN or locked-card reports by this paramedic in a minute; wait for "
        "`Retry-After`.",
    ),
    C.METRICS_TOKEN_REQUIRED: CodeInfo(
        (401,),
        "`/metrics` (server or relay) needs `Authorization: Bearer <METRICS_TOKEN>`.",
    ),
    C.RELAY_FULL: CodeInfo(
        ("ws",),
        "The relay holds as many connections as it allows (`RELAY_MAX_CONNECTIONS`); "
        "closed with 1013, reconnect later.",
    ),
    # The tablet agent (ambulance_client/): what the tablet page gets from the agent's
    # own API (/local/*) and from its same-origin proxy to the server (/api/*), besides
    # the server's codes it passes on as they came.
    C.WRONG_HOST: CodeInfo(
        (421,),
        "The tablet agent answers only on its own loopback address and port (`Host`); a "
        "page that rebinds its own name to 127.0.0.1 is refused.",
    ),
    C.CROSS_ORIGIN: CodeInfo(
        (403,), "A write to the tablet agent came from another origin than the tablet page."
    ),
    C.TABLET_TOKEN_REQUIRED: CodeInfo(
        (403,),
        "A write to the tablet agent's `/local/*` lacks the page's session token "
        "(`X-Tablet-Token`); reload the tablet page.",
    ),
    C.TABLET_OTHER_UNIT: CodeInfo(
        (403,),
        "The tablet belongs to another unit (or the account to none): sign in on your own "
        "unit's tablet. The token the server gave is revoked at once.",
    ),
    C.TABLET_PARAMEDICS_ONLY: CodeInfo(
        (403,),
        "Only a paramedic signs in on a tablet; the token the server gave is revoked at once.",
    ),
    C.VALIDATION_FAILED: CodeInfo(
        (400,),
        "A request to the tablet agent lacks a field or has one of the wrong type "
        "(`transport_id`, `kind`, `pin`, `reason`; `procedure` for a request it queues).",
    ),
    C.OFFLINE: CodeInfo(
        (503,),
        "The tablet cannot reach the server; timeline steps and requests for instruction "
        "are queued and sent on reconnection.",
    ),
    C.BAD_GATEWAY: CodeInfo(
        ("4xx/5xx",),
        "The server, or a front before it, refused a timeline step with a body that is not "
        "JSON; the status is the one it answered.",
    ),
    C.STREAM_FAILED: CodeInfo(
        (503, "local"),
        "The tablet could not start streaming (the camera or the encoder would not open), "
        "or its stream ended on a fault of its own; start it again.",
    ),
    C.INVALID_RELAY_URL: CodeInfo(
        ("local",),
        "The tablet's relay address (`--relay`) is not a WebSocket URL: its stream "
        "cannot connect until the tablet is set up again.",
    ),
    # The tablet's card reader (ambulance_client/card.py, through /local/card/*).
    C.WRONG_PIN: CodeInfo(
        (400,), "The PIN is wrong; `tries_left` says how many tries the card has left."
    ),
    C.PIN_FORMAT: CodeInfo(
        (400,), "The PIN is 4 digits; this one was not sent to the card and cost no try."
    ),
    C.CARD_LOCKED: CodeInfo(
        (423,),
        "The card is locked after 3 wrong PINs: identify the patient without the PIN; the "
        "municipal office unlocks the card.",
    ),
    C.NO_CARD: CodeInfo(
        (404,),
        "No My Number card on the tablet's reader, or the card holds no authentication "
        "certificate or key.",
    ),
    C.NO_READER: CodeInfo(
        (503,), "The tablet's card reader (its PKCS#11 module) cannot be loaded."
    ),
    C.CARD_UNREADABLE: CodeInfo((503,), "The card on the reader cannot be read; place it again."),
    C.DEVICE_KEY_MISSING: CodeInfo(
        (409,),
        "The tablet has no device key, so it cannot sign a read without PIN (the issuer's "
        "`issue-device`).",
    ),
    C.DEVICE_KEY_INVALID: CodeInfo(
        (409,), "The tablet's device key is not an RSA key; issue the tablet's key again."
    ),
}


def markdown_table() -> str:
    """The table of docs/api.md's "Error codes" section, one row per code."""
    rows = ["| code | status | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{code}` | {info.status} | {info.meaning} |" for code, info in REGISTRY.items()]
    return "\n".join(rows) + "\n"
