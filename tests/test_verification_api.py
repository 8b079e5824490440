"""The PV owner's path over HTTP, registration to credits with a valid inclusion proof, on both databases."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from registry.db import Database
from registry.ledger import log
from registry.ledger.signing import LogSigner
from registry.ledger.verify import leaf_hash, parse_verifier_key, verify_checkpoint, verify_inclusion
from registry.parties import get_party, issue_api_key
from registry.settings import Settings
from tests.api_client import auth
from tests.verification_world import PV_DATA, PV_PARAMS, Verifier, accredit
from tests.world import World, make_world
from verification.statements import sign_statement

PROJECT = {
    "name": "SIP rooftop PV", "methodology_id": "CIR-PV-DG", "methodology_version": "1.0", "region": "CN-JS",
    "location": "Suzhou Industrial Park", "capacity": 1000, "capacity_unit": "kWp",
    "crediting_period_start": "2023-01-01", "crediting_period_end": "2032-12-31",
    "assets": [{"kind": "meter", "identifier": "SH-1"}],
}


@pytest.fixture
def setup(db: Database, signer: LogSigner, tmp_path: Path) -> Any:
    from api.app import create_app

    world = make_world(db)
    cqc = accredit(db, world, "China Quality Certification Centre", ["CIR-PV-DG"], ["CN-JS"])
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs",
                        max_upload_bytes=200_000)
    with TestClient(create_app(settings, db=db, signer=signer, migrate=False)) as client:
        cqc_key = issue_key(db, cqc)
        yield client, world, cqc, cqc_key


def issue_key(db: Database, verifier: Verifier) -> str:

    with db.write() as s:
        party = get_party(s, verifier.party.public_id)
        return issue_api_key(s, party, party)[1]


def register(client: TestClient, world: World, verifier_key: str, body: dict[str, Any] = PROJECT) -> str:
    r = client.post("/api/v1/projects", headers=auth(world.owner_key), json=body)
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    for key, status in ((world.owner_key, "submitted"), (verifier_key, "under_validation")):
        r = client.post(f"/api/v1/projects/{project}/status", headers=auth(key), json={"status": status})
        assert r.status_code == 200, r.text
    report = client.put("/api/v1/uploads", headers=auth(verifier_key), content=b"# Validation report\nValidated.\n")
    r = client.post(f"/api/v1/projects/{project}/documents", headers=auth(verifier_key), json={
        "title": "Validation report", "filename": "validation.md", "sha256": report.json()["sha256"],
        "kind": "validation_report"})
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/projects/{project}/status", headers=auth(verifier_key), json={"status": "registered"})
    assert r.status_code == 200, r.text
    return project


def upload(client: TestClient, world: World, content: bytes) -> Any:
    return client.put("/api/v1/uploads", headers=auth(world.owner_key), content=content)


def create_report(client: TestClient, world: World, project: str, sha256: str, **overrides: Any) -> Any:
    body = {"period_start": "2023-01-01", "period_end": "2023-12-31", "data_sha256": sha256,
            "data_filename": "sh-1-2023.csv", "params": PV_PARAMS, "issue_to_account": world.owner_account,
            **overrides}
    return client.post(f"/api/v1/projects/{project}/reports", headers=auth(world.owner_key), json=body)


def test_register_upload_verify_and_prove_the_credits(setup: Any, db: Database, signer: LogSigner) -> None:
    client, world, cqc, cqc_key = setup
    project = register(client, world, cqc_key)
    assert client.get(f"/api/v1/projects/{project}/assets").json()[0]["identifier"] == "SH-1"
    uploaded = upload(client, world, PV_DATA.read_bytes())
    assert uploaded.status_code == 201, uploaded.text
    r = create_report(client, world, project, uploaded.json()["sha256"])
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "draft" and report["net_reduction_kg"] == 462_000
    assert report["quantification"]["vintages"][0]["net_reduction_kg"] == 462_000
    rid = report["id"]
    assert client.post(f"/api/v1/reports/{rid}/submit", headers=auth(world.owner_key)).json()["status"] == "submitted"
    assert client.post(f"/api/v1/reports/{rid}/verification", headers=auth(cqc_key)).status_code == 200
    assert client.get(f"/api/v1/reports/{rid}/data", headers=auth(cqc_key)).content == PV_DATA.read_bytes()
    template = client.get(f"/api/v1/reports/{rid}/statement-template", headers=auth(cqc_key)).json()
    template["opinion"] = "Reasonable assurance; meter SH-1 calibrated 2022-11."
    r = client.post(f"/api/v1/reports/{rid}/approval", headers=auth(cqc_key),
                    json={"statement": template, "signature": sign_statement(template, cqc.key)})
    assert r.status_code == 201, r.text
    assert r.json()["report"]["status"] == "issued" and len(r.json()["issuances"]) == 1
    balances = client.get(f"/api/v1/accounts/{world.owner_account}/balances", headers=auth(world.owner_key)).json()
    assert balances[0]["active_kg"] == 462_000

    log.sequence_all(db, signer)
    blocks = client.get(f"/api/v1/accounts/{world.owner_account}/blocks", headers=auth(world.owner_key)).json()
    issuance = client.get(f"/api/v1/issuances/{blocks['items'][0]['issuance']}").json()
    assert issuance["verification_statement_sha256"] == r.json()["statement_sha256"]
    key = parse_verifier_key(client.get("/api/v1/log/key").text)
    checkpoint = verify_checkpoint(client.get("/api/v1/log/checkpoint").text, key)
    index = client.get(f"/api/v1/ledger-entries/{r.json()['ledger_entries'][0]}").json()["leaf_index"]
    entry = client.get(f"/api/v1/log/entries/{index}").content
    assert json.loads(entry)["verification_statement_sha256"] == r.json()["statement_sha256"]
    proof = client.get("/api/v1/log/proof/inclusion", params={"index": index, "tree_size": checkpoint.tree_size})
    verify_inclusion(index, checkpoint.tree_size, leaf_hash(entry),
                     [base64.b64decode(h) for h in proof.json()["hashes"]], checkpoint.root_hash)
    public_trail = client.get(f"/api/v1/projects/{project}/trail").json()
    assert [e["action"] for e in public_trail][-2:] == ["verified", "credits issued"]
    assert all(e["note"] is None for e in public_trail)
    insider = client.get(f"/api/v1/reports/{rid}/trail", headers=auth(world.owner_key)).json()
    assert "Reasonable assurance" in next(e for e in insider if e["action"] == "verified")["note"]


def test_bad_uploads_and_reports_are_refused_and_store_nothing(setup: Any) -> None:
    client, world, _, cqc_key = setup
    project = register(client, world, cqc_key)
    too_big = upload(client, world, b"x" * 200_001)
    assert too_big.status_code == 413 and too_big.json()["type"] == "urn:cir:problem:upload-too-large"
    cases = {
        b"": "empty",
        b"meter,when,kwh\nSH-1,2023-04-01T08:00:00+08:00,1\n": "column",
        b"meter_id,timestamp,energy_kwh\nSH-1,2023-04-01T08:00:00+08:00,lots\n": "not a number",
        b"meter_id,timestamp,energy_kwh\nSH-1,2023-04-01 08:00:00,1.5\n": "offset",
    }
    for content, message in cases.items():
        sha = upload(client, world, content).json()["sha256"]
        r = create_report(client, world, project, sha)
        assert r.status_code == 422, (content, r.text)
        assert r.json()["type"] == "urn:cir:problem:monitoring-data-invalid" and message in r.json()["detail"]
    r = create_report(client, world, project, "f" * 64)
    assert r.status_code == 404 and r.json()["type"] == "urn:cir:problem:unknown-upload"
    r = create_report(client, world, project, "not-a-hash")
    assert r.status_code == 422
    sha = upload(client, world, PV_DATA.read_bytes()).json()["sha256"]
    r = create_report(client, world, project, sha, issue_to_account=world.factory_account)
    assert r.status_code == 403
    assert create_report(client, world, project, sha, period_start="2024-01-01",
                         period_end="2023-01-01").status_code == 422
    assert create_report(client, world, project, sha).status_code == 201
    clash = create_report(client, world, project, sha, period_start="2023-06-01", period_end="2024-01-31")
    assert clash.status_code == 409 and clash.json()["type"] == "urn:cir:problem:overlapping-monitoring-period"


def test_double_registration_of_a_meter_names_the_holder(setup: Any) -> None:
    client, world, _, cqc_key = setup
    first = register(client, world, cqc_key)
    r = client.post("/api/v1/projects", headers=auth(world.owner_key), json={**PROJECT, "name": "Copy"})
    assert r.status_code == 409 and first in r.json()["detail"]
    too_long = {**PROJECT, "name": "Long", "assets": [], "crediting_period_end": "2033-01-01"}
    r = client.post("/api/v1/projects", headers=auth(world.owner_key), json=too_long)
    assert r.status_code == 422 and r.json()["type"] == "urn:cir:problem:crediting-period-invalid"


def test_statement_failures_over_http(setup: Any, db: Database) -> None:
    client, world, cqc, cqc_key = setup
    project = register(client, world, cqc_key)
    sha = upload(client, world, PV_DATA.read_bytes()).json()["sha256"]
    rid = create_report(client, world, project, sha).json()["id"]
    # Out of order: no verification before submission.
    r = client.post(f"/api/v1/reports/{rid}/verification", headers=auth(cqc_key))
    assert r.status_code == 409 and r.json()["type"] == "urn:cir:problem:invalid-report-transition"
    client.post(f"/api/v1/reports/{rid}/submit", headers=auth(world.owner_key))
    client.post(f"/api/v1/reports/{rid}/verification", headers=auth(cqc_key))
    template = client.get(f"/api/v1/reports/{rid}/statement-template", headers=auth(cqc_key)).json()
    assert template["opinion"] == ""  # the verifier writes it
    template["opinion"] = "Reasonable assurance."
    other = accredit(db, world, "Unregistered key holder", ["*"], ["CN-JS"])
    bad = [
        ({**template, "opinion": "  "}, None, "statement-invalid"),
        (template, sign_statement(template, other.key), "statement-signature-invalid"),
        ({**template, "verified_kg": {"2023": 1}}, sign_statement(template, cqc.key), "statement-signature-invalid"),
        ({**template, "verified_kg": {"2023": 500_000}}, None, "statement-invalid"),
        ({**template, "report": "rpt_elsewhere"}, None, "statement-invalid"),
    ]
    for statement, signature, problem in bad:
        r = client.post(f"/api/v1/reports/{rid}/approval", headers=auth(cqc_key),
                        json={"statement": statement, "signature": signature or sign_statement(statement, cqc.key)})
        assert r.status_code == 422 and r.json()["type"] == f"urn:cir:problem:{problem}", r.text
    owner_try = client.post(f"/api/v1/reports/{rid}/approval", headers=auth(world.owner_key),
                            json={"statement": template, "signature": sign_statement(template, cqc.key)})
    assert owner_try.status_code == 403
    assert client.get(f"/api/v1/reports/{rid}", headers=auth(world.owner_key)).json()["status"] == "under_verification"
    balances = client.get(f"/api/v1/accounts/{world.owner_account}/balances", headers=auth(world.owner_key)).json()
    assert balances == []


def test_imported_lists_and_project_documents_over_http(setup: Any) -> None:
    client, world, _, _ = setup
    imported = client.post("/api/v1/external-registrations", headers=auth(world.registrar_key), json=[
        {"scheme": "CCER", "identifier": "METER-IN-CCER", "asset_kind": "meter", "note": "CCER 2017-0421"}])
    assert imported.status_code == 201 and imported.json() == {"received": 1, "added": 1}
    refused = client.post("/api/v1/external-registrations", headers=auth(world.owner_key), json=[])
    assert refused.status_code == 403
    r = client.post("/api/v1/projects", headers=auth(world.owner_key),
                    json={**PROJECT, "assets": [{"kind": "meter", "identifier": "METER-IN-CCER"}]})
    assert r.status_code == 409 and r.json()["type"] == "urn:cir:problem:credited-elsewhere"
    assert "CCER 2017-0421" in r.json()["detail"]
    design = b"%PDF-1.7 project design document (stand-in bytes for the test)"
    sha = upload(client, world, design).json()["sha256"]
    body = {**PROJECT, "documents": [{"title": "Project design document", "filename": "pdd.pdf", "sha256": sha}],
            "external_registrations": [{"scheme": "GEC", "identifier": "GEC-ACCT-9"}]}
    project = client.post("/api/v1/projects", headers=auth(world.owner_key), json=body)
    assert project.status_code == 201, project.text
    listed = client.get(f"/api/v1/projects/{project.json()['id']}/documents").json()
    assert listed[0]["title"] == "Project design document" and listed[0]["bytes"] == len(design)
    assert client.get(listed[0]["url"]).content == design
    assert client.get(f"/api/v1/projects/{project.json()['id']}/documents/{'0' * 64}").status_code == 404
    missing = {**PROJECT, "name": "x", "assets": [], "documents": [{"title": "t", "filename": "a.pdf",
                                                                    "sha256": "e" * 64}]}
    assert client.post("/api/v1/projects", headers=auth(world.owner_key), json=missing).status_code == 404
