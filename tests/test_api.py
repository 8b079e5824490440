"""The HTTP API end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.db import Database
from registry.ledger import log
from registry.ledger.signing import LogSigner
from registry.ledger.verify import leaf_hash, parse_verifier_key, verify_bundle, verify_checkpoint, verify_inclusion
from tests.api_client import api_client, auth
from tests.world import World, make_world


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


@pytest.fixture
def client(db: Database, signer: LogSigner) -> Any:
    with api_client(db, signer) as c:
        yield c


def issue(client: TestClient, world: World, quantity_kg: int, vintage: int = 2025) -> dict[str, Any]:
    r = client.post("/api/v1/issuances", headers=auth(world.registrar_key), json={
        "project": world.project, "vintage": vintage, "quantity_kg": quantity_kg, "to_account": world.owner_account})
    assert r.status_code == 201, r.text
    return r.json()


def balance(client: TestClient, key: str, account: str) -> dict[str, int]:
    r = client.get(f"/api/v1/accounts/{account}/balances", headers=auth(key))
    assert r.status_code == 200, r.text
    rows = r.json()
    return rows[0] if rows else {"active_kg": 0, "frozen_kg": 0, "locked_kg": 0, "retired_kg": 0, "cancelled_kg": 0}


def transfer(client: TestClient, world: World, **body: Any) -> Any:
    payload = {"from_account": world.owner_account, "to_account": world.factory_account, **body}
    return client.post("/api/v1/transfers", headers=auth(world.owner_key), json=payload)


RETIRE = {"beneficiary_name": "Suzhou Precision Parts Factory", "beneficiary_type": "organisation",
          "purpose": "Zero-carbon factory claim 2025", "claim_period_start": "2025-01-01",
          "claim_period_end": "2025-12-31", "public_note": "Residual scope 1+2 emissions"}


def test_onboarding_a_party_with_accounts_and_keys(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/parties", headers=auth(world.registrar_key),
                    json={"name": "Taizhou Wetland Park", "kind": "organisation", "roles": ["project_owner"]})
    assert r.status_code == 201, r.text
    party = r.json()
    r = client.post(f"/api/v1/parties/{party['id']}/api-keys", headers=auth(world.registrar_key), json={})
    key = r.json()["api_key"]
    assert client.get("/api/v1/parties/me", headers=auth(key)).json()["id"] == party["id"]
    r = client.post("/api/v1/accounts", headers=auth(key), json={"name": "Wetland credits"})
    assert r.status_code == 201 and r.json()["party"] == party["id"]
    listed = client.get("/api/v1/accounts", headers=auth(key)).json()
    assert [a["id"] for a in listed["items"]] == [r.json()["id"]]
    # A project owner may not register parties.
    r = client.post("/api/v1/parties", headers=auth(key), json={"name": "X", "kind": "individual", "roles": ["buyer"]})
    assert r.status_code == 403 and r.json()["type"] == "urn:cir:problem:role-required"


def test_issue_transfer_retire_and_verify_the_proof(client: TestClient, world: World, db: Database,
                                                    signer: LogSigner) -> None:
    issued = issue(client, world, 2_000_000)
    assert issued["units"][0]["serial"].startswith("CN-JS:CIR-PV-DG:1.0:")
    r = transfer(client, world, quantity_kg=1_823_890)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/retirements", headers=auth(world.factory_key),
                    json={"from_account": world.factory_account, "quantity_kg": 1_823_890, **RETIRE})
    assert r.status_code == 201, r.text
    retirement = r.json()
    assert retirement["units"][0]["quantity_kg"] == 1_823_890
    assert client.get(retirement["proof_url"]).status_code == 409  # not yet in a checkpoint
    log.sequence_all(db, signer)
    bundle = client.get(retirement["proof_url"]).json()
    key = client.get("/api/v1/log/key").text.strip()
    entry = verify_bundle(bundle, parse_verifier_key(key))
    assert entry["beneficiary"]["name"] == "Suzhou Precision Parts Factory"
    assert balance(client, world.factory_key, world.factory_account)["active_kg"] == 0
    assert balance(client, world.owner_key, world.owner_account)["active_kg"] == 176_110
    public = client.get(f"/api/v1/retirements/{retirement['id']}").json()
    assert public["purpose"] == RETIRE["purpose"]


def test_public_log_endpoints(client: TestClient, world: World, db: Database, signer: LogSigner) -> None:
    assert client.get("/api/v1/log/checkpoint").status_code == 409
    issue(client, world, 1_000)
    transfer(client, world, quantity_kg=10)
    transfer(client, world, quantity_kg=10)
    log.sequence_all(db, signer)
    note = client.get("/api/v1/log/checkpoint")
    assert note.headers["content-type"].startswith("text/plain")
    key = parse_verifier_key(client.get("/api/v1/log/key").text)
    cp = verify_checkpoint(note.text, key)
    assert cp.tree_size == 5  # two accounts opened, an issuance, two transfers
    entry = client.get("/api/v1/log/entries/3")
    assert b'"type":"transfer"' in entry.content
    proof = client.get("/api/v1/log/proof/inclusion", params={"index": 3, "tree_size": 5}).json()
    verify_inclusion(3, 5, leaf_hash(entry.content), [base64.b64decode(h) for h in proof["hashes"]], cp.root_hash)
    consistency = client.get("/api/v1/log/proof/consistency", params={"old": 1, "new": 5}).json()
    assert consistency["old_size"] == 1 and len(consistency["hashes"]) == 3
    assert client.get("/api/v1/log/entries/99").status_code == 404
    assert client.get("/api/v1/log/proof/inclusion", params={"index": 5, "tree_size": 5}).status_code == 422
    assert client.get("/api/v1/log/proof/inclusion", params={"index": 0, "tree_size": 6}).status_code == 422


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"quantity_kg": 0}, 422, "request-validation-failed"),
        ({"quantity_kg": -5}, 422, "request-validation-failed"),
        ({"quantity_kg": 2.5}, 422, "request-validation-failed"),
        ({"quantity_kg": "10"}, 422, "request-validation-failed"),
        ({}, 422, "request-validation-failed"),
        ({"quantity_kg": 1_001}, 409, "insufficient-credits"),
        ({"quantity_kg": 10, "to_account": "acct_nobody"}, 404, "unknown-account"),
        ({"quantity_kg": 10, "from_account": "acct_nobody"}, 404, "unknown-account"),
        ({"serial_range": {"issuance": "iss_nope", "first_unit": 1, "last_unit": 5}}, 404, "unknown-issuance"),
        ({"quantity_kg": 10, "surprise": True}, 422, "request-validation-failed"),
    ],
)
def test_bad_transfers_get_problem_details_and_change_nothing(
    client: TestClient, world: World, body: dict[str, Any], status: int, problem: str
) -> None:
    issue(client, world, 1_000)
    r = transfer(client, world, **body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"urn:cir:problem:{problem}"
    assert r.json()["title"]
    assert balance(client, world.owner_key, world.owner_account)["active_kg"] == 1_000


def test_malformed_json_and_missing_or_wrong_keys(client: TestClient, world: World) -> None:
    issue(client, world, 1_000)
    r = client.post("/api/v1/transfers", headers={**auth(world.owner_key), "Content-Type": "application/json"},
                    content=b'{"quantity_kg": 10,')
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/api/v1/transfers", json={"quantity_kg": 10})
    assert r.status_code == 401 and r.json()["type"] == "urn:cir:problem:unauthorized"
    r = client.post("/api/v1/transfers", headers=auth("cir_not-a-real-key"), json={"quantity_kg": 10})
    assert r.status_code == 401
    # A stranger's credits: the factory tries to move the owner's.
    r = client.post("/api/v1/transfers", headers=auth(world.factory_key),
                    json={"from_account": world.owner_account, "to_account": world.factory_account, "quantity_kg": 10})
    assert r.status_code == 403 and r.json()["type"] == "urn:cir:problem:not-account-holder"
    # Wrong role: only the registrar issues.
    r = client.post("/api/v1/issuances", headers=auth(world.owner_key), json={
        "project": world.project, "vintage": 2025, "quantity_kg": 5, "to_account": world.owner_account})
    assert r.status_code == 403
    assert balance(client, world.owner_key, world.owner_account)["active_kg"] == 1_000


def test_retired_and_frozen_credits_cannot_move(client: TestClient, world: World) -> None:
    iss = issue(client, world, 1_000)["id"]
    r = client.post("/api/v1/retirements", headers=auth(world.owner_key), json={
        "from_account": world.owner_account, "serial_range": {"issuance": iss, "first_unit": 1, "last_unit": 100},
        **RETIRE})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/retirements", headers=auth(world.owner_key), json={
        "from_account": world.owner_account, "serial_range": {"issuance": iss, "first_unit": 50, "last_unit": 150},
        **RETIRE})
    assert r.status_code == 409 and r.json()["type"] == "urn:cir:problem:credits-not-available"
    r = client.post("/api/v1/freezes", headers=auth(world.registrar_key), json={
        "account": world.owner_account, "serial_range": {"issuance": iss, "first_unit": 101, "last_unit": 1_000},
        "reason": "ownership dispute"})
    assert r.status_code == 201, r.text
    r = transfer(client, world, serial_range={"issuance": iss, "first_unit": 500, "last_unit": 600})
    assert r.status_code == 409
    r = transfer(client, world, quantity_kg=1)
    assert r.status_code == 409 and r.json()["type"] == "urn:cir:problem:insufficient-credits"
    assert balance(client, world.owner_key, world.owner_account) == {
        "group": None, "active_kg": 0, "frozen_kg": 900, "locked_kg": 0, "retired_kg": 0, "cancelled_kg": 0}


def test_idempotency_key_replays_the_first_result(client: TestClient, world: World) -> None:
    issue(client, world, 1_000)
    headers = {**auth(world.owner_key), "Idempotency-Key": "order-42"}
    body = {"from_account": world.owner_account, "to_account": world.factory_account, "quantity_kg": 300}
    first = client.post("/api/v1/transfers", headers=headers, json=body)
    again = client.post("/api/v1/transfers", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert balance(client, world.factory_key, world.factory_account)["active_kg"] == 300
    other = client.post("/api/v1/transfers", headers=headers, json={**body, "quantity_kg": 301})
    assert other.status_code == 409 and other.json()["type"] == "urn:cir:problem:idempotency-key-reused"
    assert balance(client, world.factory_key, world.factory_account)["active_kg"] == 300


def test_project_search_and_cursor_pagination(client: TestClient, world: World) -> None:
    for i in range(5):
        r = client.post("/api/v1/projects", headers=auth(world.owner_key), json={
            "name": f"Rooftop {i}", "methodology_id": "CIR-PV-DG", "methodology_version": "1.0", "region": "CN-JS",
            "location": "Suzhou", "capacity": 5.5, "capacity_unit": "kWp", "crediting_period_start": "2025-01-01",
            "crediting_period_end": "2034-12-31", "assets": [{"kind": "meter", "identifier": f"SZ-{i}"}]})
        assert r.status_code == 201, r.text
    seen, cursor = [], None
    while True:
        params = {"region": "CN-JS", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/projects", params=params).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    assert client.get("/api/v1/projects", params={"cursor": "garbage"}).status_code == 422
    drafts = client.get("/api/v1/projects", params={"status": "draft"}).json()["items"]
    assert len(drafts) == 5
    bad = client.post("/api/v1/projects", headers=auth(world.owner_key), json={
        "name": "X", "methodology_id": "CIR-PV-DG", "methodology_version": "1.0", "region": "Jiangsu",
        "location": "Suzhou", "crediting_period_start": "2025-01-01", "crediting_period_end": "2034-12-31"})
    assert bad.status_code == 422


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/log/checkpoint" in spec["paths"]
    assert "/api/v1/retirements/{retirement_id}/proof" in spec["paths"]
