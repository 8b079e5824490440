"""An in-process HTTP client on the real app, against the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.settings import Settings


@contextmanager
def api_client(db: Database, signer: LogSigner, run_sequencer: bool = False) -> Iterator[TestClient]:
    settings = Settings(database_url=db.url, run_sequencer=run_sequencer, sequencer_interval_s=0.05)
    app = create_app(settings, db=db, signer=signer, migrate=False)
    with TestClient(app) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
