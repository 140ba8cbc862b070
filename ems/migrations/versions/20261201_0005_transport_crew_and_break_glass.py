"""transport crew and break-glass record accesses

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The crew of a transport is recorded from now on (at dispatch, and when an on-duty
paramedic of the unit first acts on it). Transports from before this revision get
the paramedics who recorded any of their timeline steps: the only crew they knew.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transport_crew",
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_transport_crew_transport_id_transports"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_transport_crew_user_id_users")
        ),
        sa.PrimaryKeyConstraint("transport_id", "user_id", name=op.f("pk_transport_crew")),
    )
    op.create_index(op.f("ix_transport_crew_user_id"), "transport_crew", ["user_id"])
    op.execute(
        """
        INSERT INTO transport_crew (transport_id, user_id, joined_at)
        SELECT e.transport_id, e.recorded_by, MIN(e.recorded_at)
        FROM transport_events e JOIN users u ON u.id = e.recorded_by
        WHERE u.role = 'PARAMEDIC' OR u.role = 'paramedic'
        GROUP BY e.transport_id, e.recorded_by
        """
    )
    op.create_table(
        "break_glass_accesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transport_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["transport_id"],
            ["transports.id"],
            name=op.f("fk_break_glass_accesses_transport_id_transports"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_break_glass_accesses_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_break_glass_accesses_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_break_glass_accesses_reviewed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_accesses")),
    )
    op.create_index(
        op.f("ix_break_glass_accesses_transport_id"), "break_glass_accesses", ["transport_id"]
    )
    op.create_index(
        op.f("ix_break_glass_accesses_patient_id"), "break_glass_accesses", ["patient_id"]
    )


def downgrade() -> None:
    op.drop_table("break_glass_accesses")
    op.drop_table("transport_crew")
