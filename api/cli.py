"""`cir`: run, migrate, bootstrap, seed the demo, manage keys, verify proofs and statements, audit,
move and retire credits, and each role's steps (`api.cli_roles`). Modules are imported inside the
commands, so that `cir --help` answers at once."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_book import auction_app, order_app, product_app
from api.cli_methodology import methodology_app
from api.cli_netzero import certificate_app, claim_app, facility_app, inventory_app
from api.cli_roles import (
    account_app,
    application_app,
    apply,
    party_app,
    project_app,
    proof_app,
    registry_app,
    report_app,
    retire,
    retire_batch,
    transfer,
    transfer_batch,
    verifier_app,
    verify_statement,
)
from api.cli_trading import cash_app, market_app, offer_app, pledge_app

if TYPE_CHECKING:
    from registry.db import Database
    from registry.ledger.signing import LogSigner
    from registry.settings import Settings

# The demo's log has an origin of its own, so that no real registry is ever mistaken for it.
DEMO_LOG_ORIGIN = "demo.carbon-inclusion-registry.example/log"

app = typer.Typer(help="Carbon Inclusion Registry", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and the log's verifier key", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(methodology_app, name="methodology")
app.add_typer(party_app, name="party")
app.add_typer(project_app, name="project")
app.add_typer(report_app, name="report")
app.add_typer(verifier_app, name="verifier")
app.add_typer(account_app, name="account")
app.add_typer(registry_app, name="registry")
app.add_typer(proof_app, name="proof")
app.add_typer(application_app, name="application")
app.add_typer(facility_app, name="facility")
app.add_typer(inventory_app, name="inventory")
app.add_typer(claim_app, name="claim")
app.add_typer(certificate_app, name="certificate")
app.add_typer(cash_app, name="cash")
app.add_typer(offer_app, name="offer")
app.add_typer(market_app, name="market")
app.add_typer(pledge_app, name="pledge")
app.add_typer(product_app, name="product")
app.add_typer(order_app, name="order")
app.add_typer(auction_app, name="auction")
app.command("transfer")(transfer)
app.command("transfer-batch")(transfer_batch)
app.command("retire")(retire)
app.command("retire-batch")(retire_batch)
app.command("verify-statement")(verify_statement)
app.command("apply")(apply)


def _settings() -> Settings:
    from registry.settings import get_settings

    return get_settings()


def _upgrade(database_url: str) -> None:
    from registry.migrate import upgrade_database

    upgrade_database(database_url)


def _database() -> Database:
    from registry.db import Database

    return Database(_settings().database_url)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _registry_signer() -> LogSigner:
    """This registry's log key, checked against the identity its database recorded."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from registry.ledger.identity import LogIdentityMismatch, open_log_signer
    from registry.ledger.signing import LogKeyMissing

    settings = _settings()
    try:
        return open_log_signer(_database(), settings.signing_key_file, settings.log_origin)
    except (LogKeyMissing, LogIdentityMismatch) as exc:
        _fail(str(exc))
    except (OperationalError, ProgrammingError):  # no tables: a database nobody set up
        _fail("this database holds no registry yet: `cir bootstrap` (or `cir demo`) sets one up")
    raise AssertionError("unreachable")


def _new_log_signer(origin: str, use_existing_key: bool) -> LogSigner:
    """The key of a registry being created: a new key file, or an existing one only when told so."""
    from registry.ledger.signing import create_key_file, load_signer

    key_file = _settings().signing_key_file
    if key_file.exists() and not use_existing_key:
        _fail(f"{key_file} already holds a log key, perhaps another registry's (the demo's?). A new registry "
              "gets a key of its own: set CIR_SIGNING_KEY_FILE to a new path (or `make clean` for a fresh "
              "demo), or pass --use-existing-key if this key was made for this registry")
    if not key_file.exists():
        create_key_file(key_file)
    return load_signer(origin, key_file)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database (CIR_DATABASE_URL) to the newest schema."""
    _upgrade(_settings().database_url)
    typer.echo("database is at the newest schema")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only; SQLite uses one)")] = 1,
) -> None:
    """Migrate, then serve the API and /docs."""
    import uvicorn

    settings = _settings()
    _upgrade(settings.database_url)
    signer = _registry_signer()  # refuse to start with a key that is not this registry's
    if settings.database_url.startswith("sqlite") and workers != 1:
        _fail("SQLite serves from one process; use PostgreSQL (CIR_DATABASE_URL) for more workers")
    typer.echo(f"Carbon Inclusion Registry: http://{host}:{port}/")
    typer.echo(f"  API reference: http://{host}:{port}/docs   log key: {signer.verifier_key}")
    uvicorn.run("api.app:create_served_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


@app.command()
def bootstrap(
    name: Annotated[str, typer.Option(help="The registrar organisation's name")],
    origin: Annotated[str | None, typer.Option(help="The log's name in its checkpoints (default: "
                                                    "CIR_LOG_ORIGIN)")] = None,
    use_existing_key: Annotated[bool, typer.Option(help="Sign with the key file already at "
                                                        "CIR_SIGNING_KEY_FILE instead of making one")] = False,
) -> None:
    """Start a new registry: make its log key, record it, create the first registrar (key shown once)."""
    from registry import errors
    from registry.ledger.identity import log_identity, record_log_identity
    from registry.parties import bootstrap_registrar

    settings = _settings()
    _upgrade(settings.database_url)
    db = _database()
    with db.read() as s:
        if log_identity(s) is not None:
            _fail("this database already holds a registry: ask its registrar for a key")
    signer = _new_log_signer(origin or settings.log_origin, use_existing_key)
    try:
        with db.write() as s:
            result = bootstrap_registrar(s, name)
            record_log_identity(s, signer)
    except errors.RegistryError as exc:
        _fail(exc.message)
    typer.echo(f"registrar {result.party.public_id}\nAPI key (shown once): {result.api_key}")
    typer.echo(f"log key (give it to auditors): {signer.verifier_key}")


@app.command()
def demo(if_empty: Annotated[bool, typer.Option(help="Do nothing when the registry has data")] = False) -> None:
    """Load the demo: five projects with a year of data, validated, verified and issued; a factory's verified
    inventory, its retirement for its net-zero claim and its certificate."""
    from demo.scenario import load_demo, registry_is_empty
    from registry.ledger.identity import record_log_identity

    settings = _settings()
    _upgrade(settings.database_url)
    db = _database()
    if not registry_is_empty(db):
        if if_empty:
            typer.echo("the registry already has data; demo not loaded")
            return
        _fail("the registry already has data; the demo loads into an empty registry only")
    var_dir = Path("var")
    signer = _new_log_signer(DEMO_LOG_ORIGIN, use_existing_key=False)
    with db.write() as s:
        record_log_identity(s, signer)
    from verification.blobs import BlobStore

    result = load_demo(db, signer, BlobStore(settings.blob_dir), var_dir)
    keys_file = var_dir / "demo-keys.json"
    keys_file.write_text(json.dumps({"api_keys": result.keys, "parties": result.parties, "accounts": result.accounts,
                                     "projects": result.projects, "reports": result.reports,
                                     "verifier_key_files": result.verifier_key_files,
                                     "retirement": result.retirement, "facility": result.facility,
                                     "inventory": result.inventory, "claim": result.claim,
                                     "certificate": result.certificate,
                                     "market": dataclasses.asdict(result.market)}, indent=2))
    keys_file.chmod(0o600)
    typer.echo(f"demo loaded; API keys and ids in {keys_file}")
    typer.echo(f"the factory's retirement: /api/v1/retirements/{result.retirement}/proof")
    typer.echo(f"its net-zero certificate: /api/v1/certificates/{result.certificate}")


@app.command("sample-data")
def sample_data(
    meter: Annotated[list[str], typer.Option(help="A meter as NAME:KWP, e.g. MY-METER-1:8.8; repeat for more")],
    out: Annotated[Path, typer.Option(help="The CSV to write")],
    params_out: Annotated[Path, typer.Option(help="The methodology parameters to write (JSON)")],
    year: int = 2025,
    seed: int = 1,
) -> None:
    """Write a year of synthetic 15-minute PV data for Suzhou, and its CIR-PV-DG parameters."""
    from demo.data import pv_year, write_csv

    try:
        meters = [(name, float(kwp)) for name, _, kwp in (m.rpartition(":") for m in meter)]
    except ValueError:
        _fail("give each meter as NAME:KWP, e.g. MY-METER-1:8.8")
    if any(not name or kwp <= 0 for name, kwp in meters):
        _fail("give each meter as NAME:KWP with a positive capacity")
    data, params = pv_year(meters, year, seed)
    write_csv(data, out)
    params_out.write_text(json.dumps(params, indent=2))
    typer.echo(f"{len(data)} readings written to {out}; parameters to {params_out}")


@keys_app.command("log")
def log_key(
    create: Annotated[bool, typer.Option(help="Make a new key file at CIR_SIGNING_KEY_FILE (before "
                                              "`cir bootstrap --use-existing-key`); refuses to replace one")] = False,
) -> None:
    """Print the log's verifier key string, for auditors to pin."""
    if create:
        from registry.ledger.signing import create_key_file, load_signer

        settings = _settings()
        try:
            create_key_file(settings.signing_key_file)
        except FileExistsError as exc:
            _fail(str(exc))
        typer.echo(load_signer(settings.log_origin, settings.signing_key_file).verifier_key)
        return
    typer.echo(_registry_signer().verifier_key)


@keys_app.command("create")
def create_key(party: str, label: str = "") -> None:
    """Create an API key for a party (operator command; prints the key once)."""
    from registry import errors
    from registry.parties import get_party, issue_operator_api_key

    try:
        with _database().write() as s:
            key, secret = issue_operator_api_key(s, get_party(s, party), label)
    except errors.RegistryError as exc:
        _fail(exc.message)
    typer.echo(f"{key.prefix}…  API key (shown once): {secret}")


@app.command("verify-proof")
def verify_proof(
    bundle: Annotated[Path, typer.Argument(help="A proof bundle JSON file")],
    key: Annotated[str, typer.Option(help="The registry's verifier key string")],
) -> None:
    """Verify a proof bundle (a retirement, an issuance, a net-zero certificate …) offline: signature,
    checkpoint, inclusion; for a certificate also that its retirements and offset lines add up."""
    from registry.ledger import verify

    sys.exit(verify.main([str(bundle), key]))


@app.command()
def audit(
    key: Annotated[str | None, typer.Option(help="The log's verifier key string as you hold it; without it the "
                                                 "key file on this host is trusted")] = None,
    since: Annotated[Path | None, typer.Option(help="A checkpoint you saved earlier (GET /api/v1/log/checkpoint): "
                                                     "the log must still extend it")] = None,
) -> None:
    """Recompute the tree, check every checkpoint, and replay the log against every public record."""
    from netzero.audit import audit_netzero
    from registry.ledger.audit import audit as audit_registry
    from registry.ledger.verify import VerificationError
    from trading.cash import audit_cash
    from verification.audit import audit_verification

    if key is None:
        key = _registry_signer().verifier_key
        typer.echo("checking against this host's key file; pass --key to bring your own copy of the key")
    saved = None
    if since is not None:
        try:
            saved = since.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read {since}: {exc}")
    try:
        with _database().snapshot() as s:
            report = audit_registry(s, key, saved)
            audit_verification(s, report)
            audit_netzero(s, report)
            audit_cash(s, report)
    except VerificationError as exc:
        _fail(f"not a verifier key: {exc}")
    typer.echo(f"{report.entries} entries ({report.pending} pending), {report.checkpoints} checkpoints, "
               f"{report.issuances} issuances, {report.retirements} retirements, {report.accounts} accounts")
    for problem in report.problems:
        typer.echo(f"PROBLEM: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo("audit passed")


@app.command()
def sequencer() -> None:
    """Run the sequencer alone (when the API runs with CIR_RUN_SEQUENCER=false)."""
    from registry.ledger.log import SequencerThread

    settings = _settings()
    thread = SequencerThread(_database(), _registry_signer(), settings.sequencer_interval_s,
                             settings.sequencer_batch_size)
    thread.start()
    typer.echo("sequencing; Ctrl-C to stop")
    try:
        thread.join()
    except KeyboardInterrupt:
        thread.stop()

