"""A factory, a verifier and the public through `cir` and the HTTP API against a live server: from
activity data to a certificate whose PDF, record and proof bundle agree."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pypdf
import pytest
from typer.testing import CliRunner

from api.cli import app
from registry.db import Database
from registry.ledger import log
from registry.ledger.signing import LogSigner, write_private_key
from registry.parties import issue_api_key
from registry.settings import Settings
from tests.live_server import live_server
from tests.netzero.netzero_world import HEADER, activity_csv, give_factory, last_year, make_netzero_world, verify
from tests.world import issue

runner = CliRunner()


def cir(*args: str, key: str = "") -> str:
    result = runner.invoke(app, list(args), env={"CIR_API_KEY": key})
    assert result.exit_code == 0, result.output
    return result.output


def test_factory_verifier_and_public_walk_to_a_certificate(db: Database, signer: LogSigner, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    nz = make_netzero_world(db)
    world = nz.base
    verifier_key_file = tmp_path / "cqc.pem"
    write_private_key(verifier_key_file, nz.verifier.key)
    with db.write() as s:
        verifier_key = issue_api_key(s, world.registrar, nz.verifier.party)[1]
    year = last_year()
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        registered = cir("facility", "register", "Guangzhou Yuexiu Concrete", "--region", "CN-GD", "--address",
                         "Baiyun District, Guangzhou", "--industry", "Ready-mix concrete", key=world.factory_key)
        facility = registered.split()[1].rstrip(":")
        data = tmp_path / "activity.csv"
        data.write_bytes(activity_csv())
        filed = cir("inventory", "file", facility, "--data", str(data), "--period-start", f"{year}-01-01",
                    "--period-end", f"{year}-12-31", key=world.factory_key)
        assert "version 1 (submitted)" in filed and "scope 1 31.452 t" in filed
        inventory = filed.split()[1]
        assert inventory in cir("inventory", "list", "--waiting", key=verifier_key)
        assert "under_verification" in cir("inventory", "take", inventory, key=verifier_key)
        statement = tmp_path / "statement.json"
        cir("inventory", "template", inventory, str(statement), "--opinion", "Reasonable assurance.",
            key=verifier_key)
        signed = runner.invoke(app, ["verifier", "sign", str(statement), "--key", str(verifier_key_file)])
        assert signed.exit_code == 0 and f"emission inventory {inventory} version 1" in signed.stderr
        approved = cir("inventory", "approve", inventory, "--statement", str(statement), "--signature",
                       signed.stdout.strip(), key=verifier_key)
        assert "(verified)" in approved
        residual = json.loads(statement.read_text())["verified_residual_kg"]

        opened = cir("claim", "open", facility, "--period-start", f"{year}-01-01", key=world.factory_key)
        claim = opened.split()[1].rstrip(":")
        issue(db, world, residual, year)
        cir("transfer", "--from", world.owner_account, "--to", world.factory_account, "--quantity-kg", str(residual),
            key=world.owner_key)
        retired = cir("claim", "retire", claim, "--from", world.factory_account, "--quantity-kg", str(residual),
                      key=world.factory_key)
        assert "0.000 t to go" in retired and "cross-regional" in retired
        certified = cir("claim", "certify", claim, key=world.factory_key)
        number = certified.split()[1]
        certificate = certified.split("(")[1].split(")")[0]
        log.sequence_all(db, signer)

        listed = cir("certificate", "list", "--region", "CN-GD")
        assert number in listed and "valid" in listed
        csv = httpx.get(f"{url}/api/v1/certificates", params={"format": "csv", "region": "CN-GD"}).text
        assert csv.splitlines()[0].startswith("id,number,status") and number in csv
        record = httpx.get(f"{url}/api/v1/certificates/{certificate}").json()
        assert record["status"] == "valid" and record["document"]["covered_kg"] == residual

        pdf_file = tmp_path / "certificate.pdf"
        cir("certificate", "pdf", certificate, str(pdf_file))
        text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf_file.read_bytes())).pages)
        assert number in text and "Guangzhou Yuexiu Concrete" in text and f"/certificates/{certificate}" in text
        assert record["document"]["offsets"][0]["serial"] in text.replace("\n", "").replace(" ", "")

        bundle = tmp_path / "bundle.json"
        cir("proof", "certificate", certificate, str(bundle))
        key = httpx.get(f"{url}/api/v1/log/key").text.strip()
        verified = cir("verify-proof", str(bundle), "--key", key)
        assert f"net-zero certificate {number}" in verified and "Guangzhou Yuexiu Concrete" in verified
        assert f"reporting period: {year}-01-01 to {year}-12-31" in verified
        assert record["document"]["offsets"][0]["serial"] in verified
        tampered = json.loads(bundle.read_text())
        tampered["entries"][1]["entry"] = tampered["entries"][1]["entry"].replace('"quantity_kg":', '"quantity_kg":1')
        bundle.write_text(json.dumps(tampered))
        refused = runner.invoke(app, ["verify-proof", str(bundle), "--key", key])
        assert refused.exit_code == 1 and "NOT VERIFIED" in refused.output


def test_refusals_over_http_are_problem_details_that_change_nothing(db: Database, signer: LogSigner,
                                                                    tmp_path: Path) -> None:
    nz = make_netzero_world(db)
    world = nz.base
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    year = last_year()
    with live_server(db, signer, settings) as url:
        factory = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {world.factory_key}"})
        owner = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {world.owner_key}"})
        bad = HEADER.encode() + b"X,mobile_combustion,Diesel,10,t,DIESELL,,,,,,\n"
        sha256 = factory.put("/uploads", content=bad).json()["sha256"]
        body = {"period_start": f"{year}-01-01", "period_end": f"{year}-12-31", "data_sha256": sha256,
                "data_filename": "activity.csv"}
        refused = factory.post(f"/facilities/{nz.facility}/inventories", json=body)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("activity-data-invalid") and "DIESELL" in refused.json()["detail"]
        short = factory.post(f"/facilities/{nz.facility}/inventories",
                             json=body | {"period_end": f"{year}-06-30"})
        assert short.status_code == 422 and short.json()["type"].endswith("reporting-period-invalid")
        assert owner.post(f"/facilities/{nz.facility}/inventories", json=body).status_code == 404  # not theirs
        assert factory.get("/inventories").json()["items"] == []

        good = factory.put("/uploads", content=activity_csv()).json()["sha256"]
        inventory = factory.post(f"/facilities/{nz.facility}/inventories",
                                 json=body | {"data_sha256": good}).json()["id"]
        unverified = factory.post("/claims", json={"facility": nz.facility, "period_start": f"{year}-01-01"})
        assert unverified.status_code == 409 and unverified.json()["type"].endswith("inventory-not-verified")
        verify(db, nz, inventory)
        claim = factory.post("/claims", json={"facility": nz.facility, "period_start": f"{year}-01-01"}).json()
        give_factory(db, nz, 1_000)
        foreign = owner.post(f"/claims/{claim['id']}/retirements",
                             json={"from_account": world.owner_account, "quantity_kg": 1})
        assert foreign.status_code == 404  # another party's claim does not exist for it
        early = factory.post(f"/claims/{claim['id']}/certificate")
        assert early.status_code == 409 and early.json()["type"].endswith("claim-not-covered")
        assert factory.get(f"/claims/{claim['id']}").json()["covered_kg"] == 0
        assert httpx.get(f"{url}/api/v1/certificates").json()["items"] == []
        missing = httpx.get(f"{url}/api/v1/certificates/nzc_nothing")
        assert missing.status_code == 404 and missing.json()["type"].endswith("unknown-certificate")
