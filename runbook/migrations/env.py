"""Alembic environment of Runbook: one linear chain for the whole database.

`runbook.db.migrate(url)` runs it programmatically and hands over an open connection in
`config.attributes["connection"]`; the `alembic` command line works too (`-x url=…`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from runbook.db import Base, make_engine, normalize_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        from runbook.db import resolve_database_url
        from runbook.settings import Settings

        url = resolve_database_url(Settings())
    return normalize_url(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as own:
            _run(own)
            own.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
