"""Every migration goes down and up again cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text

from api.tables import METADATA
from registry.migrate import ALEMBIC_INI, upgrade_database


def _config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url
    return config


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrations.db"
        return
    admin_url = make_url(request.getfixturevalue("postgres_url")).set(database="postgres")
    name = f"cir_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_downgrade_to_nothing_and_upgrade_again(empty_url: str) -> None:
    upgrade_database(empty_url)
    tables = _tables(empty_url)
    assert {"credit_block", "ledger_entry", "monitoring_report", "external_registration"} <= tables
    command.downgrade(_config(empty_url), "base")
    assert _tables(empty_url) == set()
    upgrade_database(empty_url)
    assert _tables(empty_url) == tables


def test_the_migrations_build_the_schema_the_models_describe(empty_url: str) -> None:
    """A model changed without a migration (or the reverse) shows up here as a difference."""
    upgrade_database(empty_url)
    engine = create_engine(empty_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, METADATA)
    finally:
        engine.dispose()
    assert differences == []
