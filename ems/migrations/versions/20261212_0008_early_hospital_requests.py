"""early hospital requests ("ask ahead") and the crew's word on them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12

A request sent from the call's information while the unit drives is ``early``; the
crew confirms or withdraws it on scene (``early_outcome``: null until they do).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hospital_requests") as batch:
        batch.add_column(
            sa.Column("early", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("early_outcome", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospital_requests") as batch:
        batch.drop_column("early_outcome")
        batch.drop_column("early")
