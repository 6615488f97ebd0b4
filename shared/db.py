"""Database helpers: declarative base with a naming convention, engines, sessions, migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, any_, create_engine, event, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_base():
    """Each service gets its own Base (and metadata): services share no tables."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING)

    return Base


def _sqlite_pragmas(dbapi_conn, _record):
    # pysqlite must not emit its own BEGIN: the "begin" listener below does it.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite: take the write lock at BEGIN so two writers never deadlock on upgrade.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {},
    )


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def run_migrations(service_dir: Path, url: str) -> None:
    """alembic upgrade head for one service (its own versions folder and version table)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def new_id() -> str:
    """Primary keys are UUIDs made by the service, so events can name a row before it is flushed."""
    import uuid

    return str(uuid.uuid4())


def utcnow():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def among(bind, column, values):
    """``column IN values`` for a batch's keys: on PostgreSQL ``column = ANY(:array)``, one parameter
    whatever the count, so the statement is the same text every time (prepared once by the driver,
    compiled once by SQLAlchemy: an IN list renders a placeholder per value, at every execution);
    elsewhere ``IN``. ``bind``: the session or connection the statement runs on."""
    values = list(values)
    dialect = (bind.get_bind() if hasattr(bind, "get_bind") else bind).dialect
    if dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


IN_BATCH = 500  # keys per IN (...) lookup: far below SQLite's and PostgreSQL's parameter limits


def batches(items, size: int = IN_BATCH):
    """``items`` in lists of at most ``size``, for lookups by ``IN`` that must stay under a
    parameter limit (``among`` needs none on PostgreSQL)."""
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]
