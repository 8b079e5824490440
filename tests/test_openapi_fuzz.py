"""Schemathesis against the app's own OpenAPI document, on SQLite and PostgreSQL: for every
operation, with and without a key, no input may cause a 5xx, and every response must be one the
document promises (status, content type, body schema). Bounded: 15 examples per operation and
key, valid and invalid inputs both, 5 s at most for any one example."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from api.app import create_app
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.settings import Settings
from tests.world import World, issue, make_world

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
# The operations, read from the document itself: a new route is fuzzed without anyone listing it.
OPERATIONS = sorted(
    (method.upper(), path)
    for path, methods in create_app(Settings(database_url="sqlite://")).openapi()["paths"].items()
    for method in methods
)


@pytest.fixture
def fuzzed(db: Database, signer: LogSigner, tmp_path: Path) -> Iterator[tuple[FastAPI, World]]:
    world = make_world(db)
    issue(db, world, 10_000)
    app = create_app(Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs"), db=db,
                     signer=signer, migrate=False)
    with TestClient(app):  # runs the lifespan
        yield app, world


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_a_server_error_or_an_undocumented_answer(
        fuzzed: tuple[FastAPI, World], method: str, path: str) -> None:
    app, world = fuzzed
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @settings(max_examples=15, deadline=timedelta(seconds=5), database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    def each_example(case: schemathesis.Case) -> None:
        for headers in ({}, {"Authorization": f"Bearer {world.owner_key}"}):
            case.call_and_validate(headers=headers, checks=CHECKS)

    each_example()
