"""Alembic environment: the URL comes from the caller (`registry.migrate`) or from settings."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from api.tables import METADATA
from registry.settings import get_settings

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url


def run_migrations() -> None:
    connectable = config.attributes.get("connection") or create_engine(url)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _configure_and_run(connection)
    else:
        _configure_and_run(connectable)


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit() if connection.in_transaction() else None


run_migrations()
