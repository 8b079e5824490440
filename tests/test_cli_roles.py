"""Each role's steps through `cir` and the Python client, against a live server: the README's walkthrough."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.client import RegistryAPIError, RegistryClient
from registry.db import Database
from registry.ledger import log
from registry.ledger.signing import LogSigner
from registry.settings import Settings
from tests.live_server import live_server
from tests.verification_world import PV_DATA, PV_PARAMS
from tests.world import make_world

runner = CliRunner()


def cir(*args: str, key: str = "") -> str:
    result = runner.invoke(app, list(args), env={"CIR_API_KEY": key})
    assert result.exit_code == 0, result.output
    return result.output


def test_walkthrough_register_upload_verify_and_prove(db: Database, signer: LogSigner, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(db)
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        created = cir("party", "create", "China Quality Certification Centre", "--role", "verifier",
                      key=world.registrar_key).split()
        verifier, verifier_key = created[1], created[4]
        (tmp_path / "cqc.pub").write_text(cir("verifier", "keygen", "--out", str(tmp_path / "cqc.pem")))
        accredited = cir("verifier", "accredit", verifier, "--public-key", str(tmp_path / "cqc.pub"),
                         "--methodology", "CIR-PV-DG", "--region", "CN-JS", "--valid-from", "2023-01-01",
                         "--valid-until", "2030-12-31", key=world.registrar_key)
        assert "CIR-PV-DG in CN-JS" in accredited
        mine = cir("account", "open", "Second account", key=world.owner_key).strip()
        assert mine.startswith("acct_")

        project_file = tmp_path / "project.json"
        project_file.write_text(json.dumps({
            "name": "My rooftop", "methodology_id": "CIR-PV-DG", "methodology_version": "1.0", "region": "CN-JS",
            "location": "Suzhou", "capacity": 1000, "capacity_unit": "kWp", "crediting_period_start": "2023-01-01",
            "crediting_period_end": "2032-12-31", "assets": [{"kind": "meter", "identifier": "SH-1"}]}))
        project = json.loads(cir("project", "create", str(project_file), key=world.owner_key))["id"]
        cir("project", "status", project, "submitted", key=world.owner_key)
        cir("project", "status", project, "under_validation", key=verifier_key)
        refused = runner.invoke(app, ["project", "status", project, "registered"], env={"CIR_API_KEY": verifier_key})
        assert refused.exit_code == 1 and "validation-report-missing" not in refused.output
        assert "no validation report" in refused.output
        (tmp_path / "validation.md").write_text("# Validation report\nMeter SH-1 seen on site.\n")
        cir("project", "document", project, str(tmp_path / "validation.md"), "--title", "Validation report",
            "--kind", "validation_report", key=verifier_key)
        assert "registered" in cir("project", "status", project, "registered", key=verifier_key)

        (tmp_path / "params.json").write_text(json.dumps(PV_PARAMS))
        created = cir("report", "create", project, "--data", str(PV_DATA), "--params", str(tmp_path / "params.json"),
                      "--period-start", "2023-01-01", "--period-end", "2023-12-31", "--account", world.owner_account,
                      key=world.owner_key)
        assert "net 462000 kg CO2e" in created and "vintage 2023: 462000 kg" in created
        report = created.split()[0]
        cir("report", "submit", report, key=world.owner_key)
        cir("verifier", "take", report, key=verifier_key)
        statement = tmp_path / "statement.json"
        cir("verifier", "template", report, str(statement), "--opinion", "Reasonable assurance.", key=verifier_key)
        signed = runner.invoke(app, ["verifier", "sign", str(statement), "--key", str(tmp_path / "cqc.pem")])
        assert signed.exit_code == 0 and "verified 462,000 kg of 462,000 computed" in signed.stderr
        signature = signed.stdout.strip()
        approved = cir("verifier", "approve", report, "--statement", str(statement), "--signature", signature,
                       key=verifier_key)
        assert f"{report} is issued" in approved
        entry = approved.split("ledger entry ")[1].split()[0]
        assert '"active_kg": 462000' in cir("account", "balances", world.owner_account, key=world.owner_key)

        log.sequence_all(db, signer)
        bundle = tmp_path / "bundle.json"
        key_line = cir("proof", "entry", entry, str(bundle))
        verified = cir("verify-proof", str(bundle), "--key", key_line.split("key: ")[1].strip())
        assert "VERIFIED" in verified and "issue" in verified

        refused = runner.invoke(app, ["report", "submit", report], env={"CIR_API_KEY": world.owner_key})
        assert refused.exit_code == 1
        assert "refused: 409" in refused.output and "is issued; 'submitted' needs it draft" in refused.output
        with RegistryClient(url, "cir_wrong") as stranger, pytest.raises(RegistryAPIError) as raised:
            stranger.me()
        assert raised.value.status == 401


def test_signing_refuses_an_unusable_key(tmp_path: Path) -> None:
    (tmp_path / "statement.json").write_text("{}")
    (tmp_path / "bad.pem").write_text("not a key")
    result = runner.invoke(app, ["verifier", "sign", str(tmp_path / "statement.json"), "--key",
                                 str(tmp_path / "bad.pem")])
    assert result.exit_code == 1 and "cannot use" in result.output
    runner.invoke(app, ["verifier", "keygen", "--out", str(tmp_path / "k.pem")])
    again = runner.invoke(app, ["verifier", "keygen", "--out", str(tmp_path / "k.pem")])
    assert again.exit_code == 1 and "not overwriting" in again.output
