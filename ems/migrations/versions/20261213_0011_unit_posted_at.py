"""move-up: when a unit was posted away from its own station

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-13

``posted_at`` is set when a dispatcher posts an idle unit at another station and
cleared with the post; the crew's tablet shows since when it waits there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("posted_at")
