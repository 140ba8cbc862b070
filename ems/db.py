"""Database access: the declarative base, one engine per app, one session per request.

The request owns the session: the API layer commits once the service returned,
and the teardown rolls back whatever was left open. Services only flush.
CLI commands and workers use ``with db.session_scope() as session:``.
``claim_row`` is the conditional UPDATE by which the first of racing writers wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import CursorResult, DateTime, Engine, MetaData, Update, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stamp: dt.datetime = value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        with self.sessionmaker.begin() as session:
            yield session


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so that BEGIN IMMEDIATE can be used.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers queue on the database lock at BEGIN instead of failing mid-transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def init_app(app: Flask) -> None:
    app.extensions["ems_db"] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def get_db(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["ems_db"]
    return db


REQUEST_ID = "request_id"  # key in Session.info


def get_session() -> Session:
    """The session owned by the current request."""
    if "db_session" not in g:
        # The request id travels with the session, for the audit entries written in it.
        g.db_session = get_db().sessionmaker(info={REQUEST_ID: g.get("request_id", "")})
    session: Session = g.db_session
    return session


def claim_row(session: Session, stmt: Update) -> bool:
    """Run a conditional UPDATE meant for one row; True when it changed that row.

    ``stmt`` names the row and the state it must still be in, e.g.
    ``update(X).where(X.id == x, X.status == OPEN).values(...)``. Conditional UPDATEs
    settle first-answer-wins races: on PostgreSQL under READ COMMITTED, a second
    transaction's UPDATE waits for the first one's row lock, then checks its WHERE
    again against the committed row; the state has moved on, so it changes nothing
    and its caller learns that it lost. Reading the row and then writing it would let
    both pass. (On SQLite, BEGIN IMMEDIATE already makes writers take turns.)

    Objects already loaded in the session are left as they were: a caller that needs
    the new values refreshes its object.
    """
    result = cast(
        CursorResult[Any], session.execute(stmt.execution_options(synchronize_session=False))
    )
    return result.rowcount == 1


def upsert_insert(session: Session, table: Any) -> Any:
    """``INSERT`` for ``table`` in the session's dialect, with its ``ON CONFLICT``
    clauses (``on_conflict_do_nothing``, ``on_conflict_do_update``): PostgreSQL in
    production, SQLite embedded; both spell them alike."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
