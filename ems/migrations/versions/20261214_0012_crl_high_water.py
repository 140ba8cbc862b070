"""the CRL high-water mark: the newest revocation list read of each issuing CA

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14

Every server process (each gunicorn worker, and the server after a restart) refuses a
CRL file older than the newest one any of them has read: one row per CA, keyed by the
CA certificate's fingerprint, holding that CRL's number, this_update and SHA-256. The
row is only ever raised.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crl_high_water",
        sa.Column("ca_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ca", sa.String(length=16), nullable=False),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crl_sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ca_fingerprint", name=op.f("pk_crl_high_water")),
    )


def downgrade() -> None:
    op.drop_table("crl_high_water")
