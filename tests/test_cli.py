"""The `cir` commands an operator and an auditor run, against a real SQLite registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import DEMO_LOG_ORIGIN, app
from registry.db import Database
from registry.ledger import log
from registry.ledger.models import LogCheckpoint
from registry.ledger.signing import LogSigner, load_signer, write_private_key
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
    assert key == load_signer(DEMO_LOG_ORIGIN, settings.signing_key_file).verifier_key

    ok = runner.invoke(app, ["verify-proof", "bundle.json", "--key", key])
    assert ok.exit_code == 0, ok.output
    assert "VERIFIED" in ok.output and "Baiyun ready-mix concrete plant" in ok.output and "1823890 kg" in ok.output

    tampered = dict(bundle, entry=bundle["entry"].replace("Baiyun ready-mix concrete plant", "Someone Else"))
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


def test_bootstrap_creates_one_registrar_and_its_log_key(registry_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["bootstrap", "--name", "Suzhou Registry", "--origin", "registry.sip.example/log"])
    assert first.exit_code == 0 and "API key (shown once): cir_" in first.output
    assert "log key (give it to auditors): registry.sip.example/log+" in first.output
    second = runner.invoke(app, ["bootstrap", "--name", "Another"])
    assert second.exit_code == 1 and "already holds a registry" in second.output
    assert runner.invoke(app, ["keys", "log"]).output.startswith("registry.sip.example/log+")


def test_the_audit_trusts_the_key_the_auditor_brings(registry_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    key = runner.invoke(app, ["keys", "log"]).output.strip()
    with Database(get_settings().database_url).read() as s:  # the auditor saved the latest checkpoint
        saved = s.execute(select(LogCheckpoint.note).order_by(LogCheckpoint.tree_size.desc())).scalars().first()
    (registry_dir / "saved.txt").write_text(saved)
    passed = runner.invoke(app, ["audit", "--key", key, "--since", "saved.txt"])
    assert passed.exit_code == 0 and "audit passed" in passed.output, passed.output
    other = LogSigner(DEMO_LOG_ORIGIN, Ed25519PrivateKey.generate()).verifier_key
    refused = runner.invoke(app, ["audit", "--key", other])
    assert refused.exit_code == 1 and "no signature by key" in refused.output
    assert runner.invoke(app, ["audit", "--key", "not-a-key"]).exit_code == 1


def test_serve_and_audit_refuse_a_key_file_that_is_not_the_registrys(registry_dir: Path) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    key_file = get_settings().signing_key_file
    own = key_file.read_bytes()
    key_file.unlink()
    missing = runner.invoke(app, ["audit"])
    assert missing.exit_code == 1 and "no log signing key" in missing.output
    assert not key_file.exists()  # and none was made
    write_private_key(key_file, Ed25519PrivateKey.generate())
    for command in (["audit"], ["keys", "log"], ["serve", "--port", "1"], ["sequencer"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1 and "this registry's log is signed by" in result.output, (command, result.output)
    key_file.write_bytes(own)
    assert runner.invoke(app, ["audit"]).exit_code == 0


def test_a_new_registry_beside_the_demo_does_not_take_the_demos_key(
        registry_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    monkeypatch.setenv("CIR_DATABASE_URL", f"sqlite:///{registry_dir}/var/production.db")
    get_settings.cache_clear()
    not_yet = runner.invoke(app, ["audit"])
    assert not_yet.exit_code == 1 and "cir bootstrap" in not_yet.output
    refused = runner.invoke(app, ["bootstrap", "--name", "Suzhou Registry"])
    assert refused.exit_code == 1 and "already holds a log key" in refused.output
    monkeypatch.setenv("CIR_SIGNING_KEY_FILE", str(registry_dir / "var" / "production-key.pem"))
    get_settings.cache_clear()
    created = runner.invoke(app, ["bootstrap", "--name", "Suzhou Registry"])
    assert created.exit_code == 0, created.output
    assert DEMO_LOG_ORIGIN not in created.output
    assert runner.invoke(app, ["keys", "log"]).output.strip() != load_signer(
        DEMO_LOG_ORIGIN, registry_dir / "var" / "key.pem").verifier_key
