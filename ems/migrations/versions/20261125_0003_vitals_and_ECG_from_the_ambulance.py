"""vitals and ECG from the ambulance

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vital_signs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("hr", sa.SmallInteger(), nullable=True),
        sa.Column("spo2", sa.SmallInteger(), nullable=True),
        sa.Column("bp_sys", sa.SmallInteger(), nullable=True),
        sa.Column("bp_dia", sa.SmallInteger(), nullable=True),
        sa.Column("rr", sa.SmallInteger(), nullable=True),
        sa.Column("temp_c", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_vital_signs_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["transport_id"], ["transports.id"], name=op.f("fk_vital_signs_transport_id_transports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_signs")),
        sa.UniqueConstraint("transport_id", "seq", name=op.f("uq_vital_signs_transport_id")),
    )
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vital_signs_transport_id"), ["transport_id"], unique=False
        )

    op.create_table(
        "ecg_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("sample_rate_hz", sa.Integer(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("samples", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_ecg_segments_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_ecg_segments_transport_id_transports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecg_segments")),
        sa.UniqueConstraint("transport_id", "seq", name=op.f("uq_ecg_segments_transport_id")),
    )
    with op.batch_alter_table("ecg_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ecg_segments_transport_id"), ["transport_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ecg_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ecg_segments_transport_id"))
    op.drop_table("ecg_segments")
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_signs_transport_id"))
    op.drop_table("vital_signs")
