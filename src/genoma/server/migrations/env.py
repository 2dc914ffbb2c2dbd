"""Alembic environment of the genoma server (run through :func:`genoma.server.db.migrate`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from genoma.server.db import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    """Migrate on the connection passed in ``config.attributes`` (or a URL)."""
    conn = context.config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not used
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
