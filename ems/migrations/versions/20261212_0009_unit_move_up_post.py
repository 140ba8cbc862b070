"""move-up: the station a unit is posted to, away from its own

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12

A dispatcher applying a move-up suggestion posts an idle unit at another station
(``post_station_id``); the unit stays available, and the post ends when it is
dispatched or moved home.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("post_station_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_units_post_station_id_stations", "stations", ["post_station_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_constraint("fk_units_post_station_id_stations", type_="foreignkey")
        batch.drop_column("post_station_id")
