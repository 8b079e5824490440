"""Bad input gets a 4xx problem and changes nothing, never a 500: the cases adversarial testing
found by hand, over HTTP on both databases; and secrets stay out of the logs."""

from __future__ import annotations

import base64
import http.client
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from api.app import create_app
from registry.db import Database
from registry.ledger.models import LedgerEntry
from registry.ledger.signing import LogSigner
from registry.models import ApiKey, Party
from registry.settings import Settings
from tests.api_client import auth
from tests.live_server import live_server
from tests.test_verification_api import PROJECT, create_report, issue_key, register, upload
from tests.verification_world import PV_DATA, PV_PARAMS, accredit
from tests.world import issue, make_world
from verification.models import MonitoringReport

BIG = 2**63 + 5


@pytest.fixture
def setup(db: Database, signer: LogSigner, tmp_path: Path) -> Any:
    world = make_world(db)
    issue(db, world, 10_000)
    cqc = accredit(db, world, "China Quality Certification Centre", ["CIR-PV-DG"], ["CN-JS"])
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with TestClient(create_app(settings, db=db, signer=signer, migrate=False)) as client:
        yield client, world, issue_key(db, cqc)


def counts(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one(),
                s.execute(select(func.count()).select_from(MonitoringReport)).scalar_one(),
                s.execute(select(func.count()).select_from(Party)).scalar_one())


def refused(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith("urn:cir:problem:") and problem["status"] == status
    return problem


# --- 10. methodology parameters and factors at report creation ---------------------------------


@pytest.mark.parametrize("params", [
    {},
    {name: value for name, value in PV_PARAMS.items() if name != "grid_factor_pin"} | {"region": "XX-NOPE"},
    PV_PARAMS | {"capacity_kwp": -5},
    PV_PARAMS | {"no_such_parameter": 1},
    PV_PARAMS | {"grid_factor_pin": {"factor_id": "NO-SUCH-FACTOR"}},
    PV_PARAMS | {"capacity_kwp": "NaN"},
])
def test_bad_methodology_parameters_are_a_422_naming_them(setup: Any, db: Database, params: dict[str, Any]) -> None:
    client, world, cqc_key = setup
    project = register(client, world, cqc_key)
    sha256 = upload(client, world, PV_DATA.read_bytes()).json()["sha256"]
    before = counts(db)
    problem = refused(create_report(client, world, project, sha256, params=params))
    assert problem["type"] == "urn:cir:problem:monitoring-data-invalid" and problem["detail"]
    assert counts(db) == before


# --- 11. integers out of range -----------------------------------------------------------------------


def test_integers_out_of_range_are_refused(setup: Any, db: Database) -> None:
    client, world, _ = setup
    owner = auth(world.owner_key)
    before = counts(db)
    refused(client.get(f"/api/v1/ledger-entries/{BIG}"))
    refused(client.get(f"/api/v1/ledger-entries/{BIG}/proof"))
    refused(client.get(f"/api/v1/log/entries/{BIG}"))
    refused(client.get("/api/v1/log/proof/inclusion", params={"index": BIG, "tree_size": BIG}))
    cursor = base64.urlsafe_b64encode(f"after:{BIG}".encode()).decode()
    refused(client.get("/api/v1/projects", params={"cursor": cursor}))
    transfer = {"from_account": world.owner_account, "to_account": world.factory_account}
    refused(client.post("/api/v1/transfers", headers=owner, json=transfer | {"quantity_kg": 10, "vintage": 2**40}))
    refused(client.post("/api/v1/transfers", headers=owner, json=transfer | {
        "serial_range": {"issuance": "iss_x", "first_unit": 2**64, "last_unit": 2**64 + 1}}))
    too_much = transfer | {"quantity_kg": 2**53 + 1}
    refused(client.post("/api/v1/transfers", headers=owner | {"Idempotency-Key": "k-1"}, json=too_much))
    problem = refused(client.post("/api/v1/transfers", headers=owner, json=transfer | {"quantity_kg": 10**12 + 1}))
    assert "quantity_kg" in problem["detail"]
    assert counts(db) == before


# --- 12. text and numbers no database stores ---------------------------------------------------------


@pytest.mark.parametrize("name", ["Factory\x00 Ltd", "Factory \ud800 Ltd"])
def test_nul_and_lone_surrogates_in_bodies_are_refused(setup: Any, db: Database, name: str) -> None:
    client, world, _ = setup
    before = counts(db)
    body = f'{{"name": "{name.encode("unicode_escape").decode()}", "kind": "organisation", "roles": ["buyer"]}}'
    refused(client.post("/api/v1/parties", headers=auth(world.registrar_key) | {"content-type": "application/json"},
                        content=body.replace("\\\\", "\\")))
    assert counts(db) == before


@pytest.mark.parametrize("path", ["/api/v1/projects/prj_%00", "/api/v1/retirements?beneficiary=a%00b",
                                  "/api/v1/projects?region=CN-%00", "/api/v1/retirements?beneficiary=%ED%A0%80"])
def test_nul_and_bad_utf8_in_paths_and_queries_are_refused(setup: Any, path: str) -> None:
    client, _, _ = setup
    refused(client.get(path))


def test_bad_utf8_in_a_path_is_just_an_unknown_id(setup: Any) -> None:
    client, _, _ = setup  # the server decodes it to U+FFFD, which names nothing
    refused(client.get("/api/v1/projects/prj_%ED%A0%80"), 404)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_bodies_are_refused(setup: Any, db: Database, literal: str) -> None:
    client, world, _ = setup
    project = dict(PROJECT, assets=[{"kind": "meter", "identifier": "NAN-1"}])
    body = str(project).replace("'", '"').replace('"capacity": 1000', f'"capacity": {literal}')
    before = counts(db)
    problem = refused(client.post("/api/v1/projects", headers=auth(world.owner_key) | {
        "content-type": "application/json"}, content=body))
    assert problem["type"] == "urn:cir:problem:request-validation-failed"
    assert counts(db) == before


def test_a_validation_problem_does_not_echo_the_input(setup: Any) -> None:
    client, world, _ = setup
    problem = refused(client.post("/api/v1/transfers", headers=auth(world.owner_key),
                                  json={"quantity_kg": "secret-looking-text"}))
    assert problem["errors"] and all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
    assert "secret-looking-text" not in str(problem)


def test_the_connection_survives_a_server_error(db: Database, signer: LogSigner, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path), db=db, signer=signer,
                     migrate=False)

    @app.get("/crash-for-the-test", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("an unexpected failure, with a /secret/path in its message")

    with live_server(db, signer, Settings(database_url=db.url), app=app) as url:
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port)
        connection.request("GET", "/crash-for-the-test")
        crashed = connection.getresponse()
        body = crashed.read()
        assert crashed.status == 500 and b"/secret/path" not in body
        assert crashed.getheader("connection") != "close"
        connection.request("GET", "/api/v1/log/key")  # the same keep-alive connection
        assert connection.getresponse().status == 200
        connection.close()


# --- 13. the OpenAPI document says what is sent -------------------------------------------------------


def test_the_document_describes_422_as_a_problem_with_optional_errors(setup: Any) -> None:
    client, world, _ = setup
    document = client.get("/openapi.json").json()
    problem_422 = document["components"]["schemas"]["HTTPValidationError"]
    assert "errors" not in problem_422["required"] and {"type", "title", "status"} <= set(problem_422["required"])
    transfer = document["paths"]["/api/v1/transfers"]["post"]["responses"]["422"]
    assert "application/problem+json" in transfer["content"]
    # A domain 422 is sent without `errors`, as documented.
    refusal = refused(client.post("/api/v1/transfers", headers=auth(world.owner_key), json={
        "from_account": world.owner_account, "to_account": world.owner_account, "quantity_kg": 5}))
    assert "errors" not in refusal


# --- 16. no secrets in the logs ----------------------------------------------------------------------


def test_database_errors_are_logged_without_their_values(db: Database, setup: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    client, _, _ = setup
    with db.read() as s:
        key_hash, party_id = s.execute(select(ApiKey.key_hash, ApiKey.party_id)).first()
    with pytest.raises(IntegrityError) as caught, db.write() as s:
        s.execute(insert(ApiKey).values(party_id=party_id, key_hash=key_hash, prefix="cir_dup", label="x"))
    assert "parameters hidden" in str(caught.value)  # the engine never prints bound parameters
    app: Any = client.app

    @app.get("/integrity-for-the-test", include_in_schema=False)
    def integrity() -> None:
        raise caught.value

    @app.get("/crash-in-the-database-for-the-test", include_in_schema=False)
    def crash() -> None:
        raise DBAPIError("INSERT INTO api_key …", {"key_hash": key_hash}, caught.value.orig)

    with caplog.at_level(logging.INFO):
        refused(client.get("/integrity-for-the-test"), 409)
        refused(client.get("/crash-in-the-database-for-the-test"), 500)
    assert "constraint violation" in caplog.text and "unexpected error" in caplog.text
    assert key_hash not in caplog.text


def test_compose_takes_the_database_password_from_an_uncommitted_env_file() -> None:
    root = Path(__file__).resolve().parent.parent
    compose = (root / "compose.yaml").read_text()
    assert "POSTGRES_PASSWORD: ${CIR_DB_PASSWORD:?" in compose and "cir:cir@" not in compose
    assert "CIR_DB_PASSWORD=" in (root / ".env.example").read_text()
    assert ".env" in (root / ".gitignore").read_text().splitlines()
