"""`cir`: run, migrate, bootstrap, seed the demo, manage keys, verify proofs, audit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli_methodology import methodology_app
from api.cli_roles import account_app, party_app, project_app, proof_app, report_app, verifier_app
from registry.db import Database
from registry.ledger.signing import load_or_create_signer
from registry.migrate import upgrade_database
from registry.settings import get_settings
from verification.blobs import BlobStore

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
app.add_typer(proof_app, name="proof")


def _database() -> Database:
    return Database(get_settings().database_url)


def _signer():  # type: ignore[no-untyped-def]
    settings = get_settings()
    return load_or_create_signer(settings.log_origin, settings.signing_key_file)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database (CIR_DATABASE_URL) to the newest schema."""
    upgrade_database(get_settings().database_url)
    typer.echo("database is at the newest schema")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only; SQLite uses one)")] = 1,
) -> None:
    """Migrate, then serve the API and /docs."""
    import uvicorn

    settings = get_settings()
    upgrade_database(settings.database_url)
    signer = _signer()  # created here once, before any worker could race to create it
    if settings.database_url.startswith("sqlite") and workers != 1:
        _fail("SQLite serves from one process; use PostgreSQL (CIR_DATABASE_URL) for more workers")
    typer.echo(f"Carbon Inclusion Registry on http://{host}:{port}/docs  (log key: {signer.verifier_key})")
    uvicorn.run("api.app:create_served_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


@app.command()
def bootstrap(name: Annotated[str, typer.Option(help="The registrar organisation's name")]) -> None:
    """Create the first registrar and print its API key (once)."""
    from registry import errors, service

    db = _database()
    try:
        with db.write() as s:
            result = service.bootstrap_registrar(s, name)
    except errors.RegistryError as exc:
        _fail(exc.message)
    typer.echo(f"registrar {result.party.public_id}\nAPI key (shown once): {result.api_key}")


@app.command()
def demo(if_empty: Annotated[bool, typer.Option(help="Do nothing when the registry has data")] = False) -> None:
    """Load the demo: four projects with a year of data, verified and issued; a factory's retirement."""
    from api.demo import load_demo, registry_is_empty

    settings = get_settings()
    upgrade_database(settings.database_url)
    db = _database()
    if not registry_is_empty(db):
        if if_empty:
            typer.echo("the registry already has data; demo not loaded")
            return
        _fail("the registry already has data; the demo loads into an empty registry only")
    var_dir = Path("var")
    result = load_demo(db, _signer(), BlobStore(settings.blob_dir), var_dir)
    keys_file = var_dir / "demo-keys.json"
    keys_file.write_text(json.dumps({"api_keys": result.keys, "accounts": result.accounts,
                                     "projects": result.projects, "reports": result.reports,
                                     "verifier_key_files": result.verifier_key_files,
                                     "retirement": result.retirement}, indent=2))
    keys_file.chmod(0o600)
    typer.echo(f"demo loaded; API keys and ids in {keys_file}")
    typer.echo(f"the factory's retirement: /api/v1/retirements/{result.retirement}/proof")


@app.command("sample-data")
def sample_data(
    meter: Annotated[list[str], typer.Option(help="A meter as NAME:KWP, e.g. MY-METER-1:8.8; repeat for more")],
    out: Annotated[Path, typer.Option(help="The CSV to write")],
    params_out: Annotated[Path, typer.Option(help="The methodology parameters to write (JSON)")],
    year: int = 2025,
    seed: int = 1,
) -> None:
    """Write a year of synthetic 15-minute PV data for Suzhou, and its CIR-PV-DG parameters."""
    from api.demo_data import pv_year, write_csv

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
def log_key() -> None:
    """Print the log's verifier key string, for auditors to pin."""
    typer.echo(_signer().verifier_key)


@keys_app.command("create")
def create_key(party: str, label: str = "") -> None:
    """Create an API key for a party (operator command; prints the key once)."""
    from registry import errors, service

    try:
        with _database().write() as s:
            key, secret = service.issue_api_key(s, service.get_party(s, party), label)
    except errors.RegistryError as exc:
        _fail(exc.message)
    typer.echo(f"{key.prefix}…  API key (shown once): {secret}")


@app.command("verify-proof")
def verify_proof(
    bundle: Annotated[Path, typer.Argument(help="A proof bundle JSON file")],
    key: Annotated[str, typer.Option(help="The registry's verifier key string")],
) -> None:
    """Verify a proof bundle (a retirement, an issuance …) offline: signature, checkpoint, inclusion."""
    from registry.ledger import verify

    sys.exit(verify.main([str(bundle), key]))


@app.command()
def audit() -> None:
    """Recompute the tree, check every checkpoint, and replay the log against the balances."""
    from registry.ledger.audit import audit as run_audit

    with _database().snapshot() as s:
        report = run_audit(s, _signer().verifier_key)
    typer.echo(f"{report.entries} entries ({report.pending} pending), {report.checkpoints} checkpoints, "
               f"{report.issuances} issuances")
    for problem in report.problems:
        typer.echo(f"PROBLEM: {problem}", err=True)
    if not report.ok:
        raise typer.Exit(1)
    typer.echo("audit passed")


@app.command()
def sequencer() -> None:
    """Run the sequencer alone (when the API runs with CIR_RUN_SEQUENCER=false)."""
    from registry.ledger.log import SequencerThread

    settings = get_settings()
    thread = SequencerThread(_database(), _signer(), settings.sequencer_interval_s, settings.sequencer_batch_size)
    thread.start()
    typer.echo("sequencing; Ctrl-C to stop")
    try:
        thread.join()
    except KeyboardInterrupt:
        thread.stop()

