"""Bring a database to the newest schema. The service calls this on start."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from registry.db import ensure_sqlite_directory

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def upgrade_database(database_url: str) -> None:
    ensure_sqlite_directory(database_url)
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")
