"""Every database test runs twice: on SQLite and on PostgreSQL.

PostgreSQL is used when CIR_TEST_POSTGRES_URL is set or a server answers on 127.0.0.1:5432; with
CIR_TEST_POSTGRES_REQUIRED=1 (CI) its absence fails the run instead of skipping those tests.
Each run migrates one fresh SQLite template file and one fresh PostgreSQL database with Alembic;
each test gets a copy of the file, or the PostgreSQL database emptied back to its migrated state.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from api.tables import METADATA
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.migrate import upgrade_database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_REQUIRED = os.environ.get("CIR_TEST_POSTGRES_REQUIRED") == "1"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("CIR_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return DEFAULT_POSTGRES_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


def postgres_admin_url() -> str:
    """The server to make test databases on; skips (or, in CI, fails) the test when there is none."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        if POSTGRES_REQUIRED:
            pytest.fail("PostgreSQL is required (CIR_TEST_POSTGRES_REQUIRED=1) but none answers")
        pytest.skip("no PostgreSQL server: set CIR_TEST_POSTGRES_URL or start one on 127.0.0.1:5432")
    return admin_url


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database for the duration; dropped afterwards."""
    name = f"cir_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        # Something answers on the port but will not let us in (a password, another user):
        # that is no PostgreSQL for these tests unless CI said one is required.
        admin.dispose()
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required (CIR_TEST_POSTGRES_REQUIRED=1) but refused us: {exc.orig}")
        pytest.skip(f"PostgreSQL at {make_url(admin_url).render_as_string()} refused us: {exc.orig}")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database(postgres_admin_url()) as url:
        yield url


def empty_database(url: str) -> None:
    """Delete every row a test may have written; keep the migration's system accounts (credit and
    cash), with their balances back at zero."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in reversed(METADATA.sorted_tables):
            where = " WHERE party_id IS NOT NULL" if table.name in ("account", "cash_account") else ""
            conn.execute(text(f'DELETE FROM "{table.name}"{where}'))
        conn.execute(text("UPDATE cash_account SET available_fen = 0, held_fen = 0"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        empty_database(url)
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def signer() -> LogSigner:
    return LogSigner("registry.test/log", Ed25519PrivateKey.generate())
