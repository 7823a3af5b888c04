"""Database plumbing shared by both services: the declarative base, engines, sessions, migrations.

    url = resolve_database_url(settings)   # postgresql+psycopg://… or sqlite:///runbook.db
    migrate(url)                           # alembic upgrade head, safe from many processes at once
    engine = make_engine(url)
    Session = make_session_factory(engine)
    with Session.begin() as session: ...

There is one Alembic environment (`runbook/migrations`) with one linear chain for the whole
database. `after_commit(session, fn)` runs `fn` once the session's transaction has committed
(notifications that must not fire for rolled-back work).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from runbook.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key of `migrate` (an arbitrary 64-bit constant: "runbook-migrate").
MIGRATION_LOCK_KEY = 0x72756E626F6F6B01
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Column types shared by the models: a 64-bit integer key that SQLite autoincrements, and JSON
# stored as JSONB on PostgreSQL (use plain `JSON` where the exact text must survive).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC; read back aware on SQLite too (which keeps
    no zone). Naive values are taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Base of every ORM model of Runbook (one metadata for the whole database)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# ----------------------------------------------------------------------------------- URLs


def resolve_database_url(settings: Settings) -> str:
    """The SQLAlchemy URL to use: PostgreSQL through psycopg 3, else the SQLite file."""
    url = settings.database_url
    if not url:
        return f"sqlite:///{settings.sqlite_path}"
    return normalize_url(url)


def normalize_url(url: str) -> str:
    """`postgres://` and `postgresql://` become `postgresql+psycopg://`; others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# -------------------------------------------------------------------------------- engines


# PostgreSQL pool: kept connections, and extra ones opened (then closed) under load. Sized to
# the request threadpool (anyio's default 40 threads) plus the background threads, so a busy
# process neither waits for a connection nor opens and closes one per request.
POOL_SIZE = 32
POOL_OVERFLOW = 16


def make_engine(url: str | Settings, **kwargs: Any) -> Engine:
    """An engine for `url` (or for the settings' database): SQLite in WAL mode with foreign
    keys and a busy timeout; PostgreSQL with pre-ping so dropped connections are replaced and
    a pool of `POOL_SIZE` (+ `POOL_OVERFLOW`) connections."""
    resolved = resolve_database_url(url) if isinstance(url, Settings) else normalize_url(url)
    if is_sqlite(resolved):
        return _sqlite_engine(resolved, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    return create_engine(resolved, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: Callable[[], Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# ----------------------------------------------------------------------- after-commit hooks

_HOOKS_KEY = "runbook_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Runs `callback` after `session` commits its current (or, when none has begun, next)
    transaction; dropped when that transaction rolls back. A failing callback is logged,
    never raised: the data is committed already."""
    session.info.setdefault(_HOOKS_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_HOOKS_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - committed work must not fail afterwards
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction ended: nothing to run
        session.info.pop(_HOOKS_KEY, None)


# ------------------------------------------------------------------------------ migrations


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(url: str | Settings, revision: str = "head") -> None:
    """Brings the database up to `revision` (Alembic `upgrade`). Several processes starting at
    once are serialized: a PostgreSQL advisory lock, or a lock file next to the SQLite file."""
    from alembic import command

    resolved = resolve_database_url(url) if isinstance(url, Settings) else normalize_url(url)
    config = alembic_config(resolved)
    engine = make_engine(resolved, poolclass=_null_pool())
    try:
        with _migration_lock(engine, resolved), engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


@contextlib.contextmanager
def _migration_lock(engine: Engine, url: str) -> Iterator[None]:
    if is_sqlite(url):
        with _file_lock(make_url(url).database):
            yield
        return
    with engine.connect() as lock_connection:
        key = {"key": _signed(MIGRATION_LOCK_KEY)}
        lock_connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        lock_connection.commit()
        try:
            yield
        finally:
            lock_connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            lock_connection.commit()


@contextlib.contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    path = Path(database).with_name(Path(database).name + ".migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _signed(key: int) -> int:
    """A 64-bit constant as the signed bigint PostgreSQL expects."""
    return key - (1 << 64) if key >= (1 << 63) else key


# ------------------------------------------------------------------------------ bulk writes


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Inserts `rows` (each naming the same columns) into `table` in the session's transaction;
    answers the `returning` columns of the rows inserted (none asked: an empty list).
    `skip_conflicts_on`: rows that collide with a stored one on these (unique) columns are
    left out (`ON CONFLICT … DO NOTHING`), and return nothing.

    On PostgreSQL one `INSERT … SELECT … FROM json_to_recordset(:rows)`: the same statement
    text whatever the number of rows (planned once per connection; psycopg prepares repeated
    statements, where a multi-row VALUES is new text for every size) and one JSON parameter
    encoded in C. Inside `pipelined(session)` a statement without `returning` does not wait
    for the server's answer. Python-side column defaults do not apply: name every column
    without a server default. Elsewhere (SQLite), a Core executemany."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return _insert_rows_core(session, table, rows, skip_conflicts_on, returning)
    names = tuple(rows[0])
    statement, processors = _recordset_plan(
        table, names, skip_conflicts_on, returning, connection.dialect
    )
    payload = json.dumps(
        [
            {
                name: process(row[name]) if process is not None else row[name]
                for name, process in zip(names, processors, strict=True)
            }
            for row in rows
        ],
        default=_json_scalar,
    )
    with _driver_errors(statement):
        cursor = connection.connection.driver_connection.execute(statement, (payload,))  # type: ignore[union-attr]
        return [tuple(row) for row in cursor.fetchall()] if returning else []


def _insert_rows_core(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    skip_conflicts_on: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    statement: Any = table.insert()
    if skip_conflicts_on:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(
            index_elements=list(skip_conflicts_on)
        )
    if returning:  # executemany with RETURNING: SQLAlchemy's "insertmanyvalues"
        statement = statement.returning(*(table.c[name] for name in returning))
        return [tuple(row) for row in session.execute(statement, list(rows))]
    session.execute(statement, list(rows))
    return []


@contextlib.contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Sends the statements of `insert_rows` inside the block without waiting for each answer
    (psycopg pipeline mode): one round trip for all of them, errors raised at the end of the
    block. A no-op on SQLite."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    with _driver_errors("pipeline"), connection.connection.driver_connection.pipeline():  # type: ignore[union-attr]
        yield


@contextlib.contextmanager
def _driver_errors(statement: str) -> Iterator[None]:
    """psycopg errors as SQLAlchemy's, as a statement run by SQLAlchemy would raise them."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error


@functools.lru_cache(maxsize=64)
def _recordset_plan(
    table: Table,
    names: tuple[str, ...],
    skip_conflicts_on: tuple[str, ...],
    returning: tuple[str, ...],
    dialect: Any,
) -> tuple[str, list[Any]]:
    """The INSERT statement and the bind processor of each column that is not JSON (None: the
    value as it is; JSON columns go into the payload as they are)."""
    quote = dialect.identifier_preparer.quote

    def listed(columns: tuple[str, ...]) -> str:
        return ", ".join(quote(name) for name in columns)

    record = ", ".join(
        f"{quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in names
    )
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({listed(names)}) "
        f"SELECT {listed(names)} FROM json_to_recordset(CAST(%s AS json)) AS given({record})"
    )
    if skip_conflicts_on:
        statement += f" ON CONFLICT ({listed(skip_conflicts_on)}) DO NOTHING"
    if returning:
        statement += f" RETURNING {listed(returning)}"
    processors = [
        None
        if isinstance(table.c[name].type, JSON)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    ]
    return statement, processors


def _json_scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def relaxed_commit(session: Session) -> None:
    """Lets this transaction's commit return before its WAL reaches the disk (PostgreSQL
    `synchronous_commit = off`, this transaction only; no-op on SQLite).

    Only for work that is redone when it is lost: a server crash may forget the last few such
    commits (never half of one, never out of order), so they must be ones whose loss leaves the
    work to do again: the relay's `relayed_at` marks (commands are sent again, and the action
    service runs each command id once) and the audit appender's chaining (entries stay
    pending). Each skipped flush is a disk write the committing transactions of events do not
    wait behind."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def advisory_xact_lock(session: Session, key: int) -> None:
    """Takes a transaction-scoped PostgreSQL advisory lock (no-op on SQLite, a single writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _signed(key)})


__all__ = [
    "Base",
    "BigId",
    "Json",
    "UtcDateTime",
    "advisory_xact_lock",
    "after_commit",
    "alembic_config",
    "insert_rows",
    "is_sqlite",
    "make_engine",
    "make_session_factory",
    "migrate",
    "normalize_url",
    "pipelined",
    "relaxed_commit",
    "resolve_database_url",
    "session_scope",
]
