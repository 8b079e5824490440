"""The `cir` commands an operator and an auditor run, against a real SQLite registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from registry.db import Database
from registry.ledger import log
from registry.ledger.signing import load_or_create_signer
from registry.settings import get_settings

runner = CliRunner()


@pytest.fixture
def registry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIR_DATABASE_URL", f"sqlite:///{tmp_path}/var/registry.db")
    monkeypatch.setenv("CIR_SIGNING_KEY_FILE", str(tmp_path / "var" / "key.pem"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_demo_then_audit_then_verify_the_retirement_offline(registry_dir: Path) -> None:
    result = runner.invoke(app, ["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["demo", "--if-empty"]).output.startswith("the registry already has data")
    assert runner.invoke(app, ["demo"]).exit_code == 1

    audit = runner.invoke(app, ["audit"])
    assert audit.exit_code == 0 and "audit passed" in audit.output

    demo = json.loads((registry_dir / "var" / "demo-keys.json").read_text())
    settings = get_settings()
    with Database(settings.database_url).read() as s:
        bundle = log.retirement_proof_bundle(s, demo["retirement"])
    (registry_dir / "bundle.json").write_text(json.dumps(bundle))
    key = runner.invoke(app, ["keys", "log"]).output.strip()
    assert key == load_or_create_signer(settings.log_origin, settings.signing_key_file).verifier_key

    ok = runner.invoke(app, ["verify-proof", "bundle.json", "--key", key])
    assert ok.exit_code == 0, ok.output
    assert "VERIFIED" in ok.output and "Suzhou Precision Parts Factory" in ok.output and "1823890 kg" in ok.output

    tampered = dict(bundle, entry=bundle["entry"].replace("Suzhou Precision Parts Factory", "Someone Else"))
    (registry_dir / "tampered.json").write_text(json.dumps(tampered))
    refused = runner.invoke(app, ["verify-proof", "tampered.json", "--key", key])
    assert refused.exit_code == 1 and "NOT VERIFIED" in refused.output

    (registry_dir / "garbage.json").write_text("{not json")
    assert runner.invoke(app, ["verify-proof", "garbage.json", "--key", key]).exit_code == 1
    assert runner.invoke(app, ["verify-proof", "bundle.json", "--key", "not-a-key"]).exit_code == 1


def test_audit_fails_when_a_block_is_edited_behind_the_services_back(registry_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    with Database(get_settings().database_url).write() as s:
        s.connection().exec_driver_sql("UPDATE credit_block SET account_id = 1 WHERE status = 'active'")
    result = runner.invoke(app, ["audit"])
    assert result.exit_code == 1 and "PROBLEM" in result.output


def test_bootstrap_creates_one_registrar_only(registry_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["bootstrap", "--name", "Suzhou Registry"])
    assert first.exit_code == 0 and "API key (shown once): cir_" in first.output
    second = runner.invoke(app, ["bootstrap", "--name", "Another"])
    assert second.exit_code == 1 and "already exists" in second.output
