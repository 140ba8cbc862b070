"""requests for a doctor's instruction, and the medical-control duty roster

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11

The role ``mc_doctor`` needs no schema change: roles are stored as strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instruction_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("OPEN", "ANSWERED", name="instructionstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum(
                "INSTRUCTED",
                "DECLINED",
                "MORE_INFORMATION",
                name="instructiondecision",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_instruction_requests_transport_id_transports"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_instruction_requests_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_instruction_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_instruction_requests_answered_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruction_requests")),
    )
    op.create_index(
        op.f("ix_instruction_requests_transport_id"), "instruction_requests", ["transport_id"]
    )
    op.create_index(op.f("ix_instruction_requests_status"), "instruction_requests", ["status"])
    op.create_table(
        "mc_duty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_mc_duty_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_mc_duty_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mc_duty")),
    )
    op.create_index(op.f("ix_mc_duty_doctor_id"), "mc_duty", ["doctor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mc_duty_doctor_id"), table_name="mc_duty")
    op.drop_table("mc_duty")
    op.drop_index(op.f("ix_instruction_requests_status"), table_name="instruction_requests")
    op.drop_index(op.f("ix_instruction_requests_transport_id"), table_name="instruction_requests")
    op.drop_table("instruction_requests")
