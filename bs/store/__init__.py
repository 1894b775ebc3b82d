"""The gateway's state, behind SQLAlchemy: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bs.errors import BsError
from bs.store.tables import metadata


def open_store(url: str) -> Engine:
    """An engine for `url`, with the tables created. SQLite waits for locks rather than failing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BsError(
            f"'{url}' is not a database URL: use sqlite:///PATH or postgresql+psycopg://HOST/DB."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    try:
        metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise BsError(
            f"cannot open the gateway store {parsed.render_as_string(hide_password=True)}: "
            f"{type(getattr(exc, 'orig', None) or exc).__name__}. Check the URL and that the database is running."
        ) from None
    return engine
