"""beds given back: whether an accept took a bed off the hospital's figure

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-13

An accept takes one bed off a fresh figure (``claim_bed``). When the patient does not
come after all (the crew withdraws an early request, the destination is changed, the
transport is stood down), that bed is given back, once: ``bed_claimed`` says which
accepted request still holds one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hospital_requests") as batch:
        batch.add_column(
            sa.Column("bed_claimed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("hospital_requests") as batch:
        batch.drop_column("bed_claimed")
