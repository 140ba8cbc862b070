"""card identification and medical records

Patients and their AES-GCM-encrypted FHIR records, the issued cards, the ambulance
tablets' device certificates, one-time card challenges, and the releases of a
record to a transport (with the review of PIN-less accesses).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("cert_serial", sa.String(length=64), nullable=False),
        sa.Column("cert_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ACTIVE", "REVOKED", name="cardstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_cards_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("cert_fingerprint", name=op.f("uq_cards_cert_fingerprint")),
        sa.UniqueConstraint("serial", name=op.f("uq_cards_serial")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patient_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_records_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_records")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_patient_records_patient_id")),
    )
    op.create_table(
        "card_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cert_serial", sa.String(length=64), nullable=False),
        sa.Column("cert_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_card_devices_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_devices")),
        sa.UniqueConstraint("cert_fingerprint", name=op.f("uq_card_devices_cert_fingerprint")),
        sa.UniqueConstraint("name", name=op.f("uq_card_devices_name")),
    )
    with op.batch_alter_table("card_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_devices_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "card_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=64), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_card_challenges_transport_id_transports"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_card_challenges_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_challenges")),
    )
    with op.batch_alter_table("card_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_card_challenges_transport_id"), ["transport_id"], unique=False
        )

    op.create_table(
        "record_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column(
            "assurance",
            sa.Enum("PIN", "PINLESS_ATTESTED", name="assurance", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("face_match_confirmed", sa.Boolean(), nullable=False),
        sa.Column(
            "review_status",
            sa.Enum(
                "NOT_REQUIRED",
                "PENDING",
                "APPROPRIATE",
                "INAPPROPRIATE",
                name="reviewstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_record_releases_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["card_devices.id"],
            name=op.f("fk_record_releases_device_id_card_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_record_releases_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"], ["users.id"], name=op.f("fk_record_releases_released_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_record_releases_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_record_releases_transport_id_transports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_releases")),
        sa.UniqueConstraint("challenge_id", name=op.f("uq_record_releases_challenge_id")),
    )
    with op.batch_alter_table("record_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_releases_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_record_releases_transport_id"), ["transport_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("record_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_releases_transport_id"))
        batch_op.drop_index(batch_op.f("ix_record_releases_patient_id"))

    op.drop_table("record_releases")
    with op.batch_alter_table("card_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_challenges_transport_id"))

    op.drop_table("card_challenges")
    with op.batch_alter_table("card_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_devices_unit_id"))

    op.drop_table("card_devices")
    op.drop_table("patient_records")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_patient_id"))

    op.drop_table("cards")
    op.drop_table("patients")
