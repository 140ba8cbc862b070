"""``ems idempotency purge``: delete idempotency keys past their 24 h lifetime.

Requests also remove a few expired keys as they insert new ones; run this from a
timer to keep the table small on a quiet server.
"""

from __future__ import annotations

import click

from ems.config import Config


def register(main: click.Group) -> None:
    @main.group()
    def idempotency() -> None:
        """Stored responses of writes sent with an Idempotency-Key."""

    @idempotency.command("purge")
    def purge() -> None:
        """Delete expired idempotency keys."""
        from ems.db import Database
        from ems.idempotency.service import purge_expired

        db_ = Database(Config.from_env().DATABASE_URL)
        total = 0
        while True:
            # Small transactions: a long purge never holds many row locks at once.
            with db_.session_scope() as session:
                n = purge_expired(session=session, limit=1000)
            total += n
            if n < 1000:
                break
        click.echo(f"purged {total} expired idempotency keys")
