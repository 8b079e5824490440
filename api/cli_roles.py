"""`cir project|report|verifier|account|proof …`: each role's steps against a running registry.

They talk HTTP through `api.client.RegistryClient`: `--url` (or CIR_URL) and `--api-key` (or
CIR_API_KEY). `cir verifier keygen` and `cir verifier sign` work offline: the private key never
leaves the verifier's machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.client import RegistryAPIError, RegistryClient
from registry.ledger.signing import write_private_key
from verification.statements import load_private_key, public_key_pem, sign_statement

Url = Annotated[str, typer.Option("--url", envvar="CIR_URL", help="The registry's base URL")]
ApiKey = Annotated[str, typer.Option("--api-key", envvar="CIR_API_KEY", help="Your API key (cir_…)")]
DEFAULT_URL = "http://127.0.0.1:8000"

party_app = typer.Typer(help="The registrar: parties and their keys", no_args_is_help=True)
project_app = typer.Typer(help="Project owners: register projects", no_args_is_help=True)
report_app = typer.Typer(help="Project owners: monitoring reports", no_args_is_help=True)
verifier_app = typer.Typer(help="Verifiers: keys, validation, signed statements", no_args_is_help=True)
account_app = typer.Typer(help="Holders: accounts and balances", no_args_is_help=True)
proof_app = typer.Typer(help="Anyone: proof bundles to verify offline", no_args_is_help=True)


def _client(url: str, api_key: str | None) -> RegistryClient:
    return RegistryClient(url, api_key or None)


def _call(url: str, api_key: str | None, method: str, *args: Any) -> Any:
    """Run one client call; a refusal prints its problem detail on stderr and exits 1."""
    with _client(url, api_key) as client:
        try:
            return getattr(client, method)(*args)
        except RegistryAPIError as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(1) from exc


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot read {path}: {exc}", err=True)
        raise typer.Exit(1) from exc


# --- the registrar ----------------------------------------------------------------------------


@party_app.command("create")
def party_create(
    name: str,
    role: Annotated[list[str], typer.Option(help="registrar, project_owner, verifier, buyer, auditor")],
    kind: str = "organisation",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Register a party and print its id and a first API key (shown once)."""
    party = _call(url, api_key, "create_party", name, kind, role)
    key = _call(url, api_key, "create_api_key", party["id"], "first key")
    typer.echo(f"party {party['id']}\napi key {key}")


@verifier_app.command("accredit")
def accredit(
    party: str,
    public_key: Annotated[Path, typer.Option(help="The verifier's public key (PEM), from `cir verifier keygen`")],
    methodology: Annotated[list[str], typer.Option(help="A methodology id, or '*'")],
    region: Annotated[list[str], typer.Option(help="An ISO 3166-2 region, or '*'")],
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    valid_until: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Accredit a verification body (registrar)."""
    result = _call(url, api_key, "accredit", party, public_key.read_text(), methodology, region, valid_from,
                   valid_until)
    typer.echo(f"accreditation {result['id']}: key {result['key_id']}, {' '.join(result['methodologies'])} in "
               f"{' '.join(result['regions'])}, {result['valid_from']} to {result['valid_until']}")


# --- project owners -----------------------------------------------------------------------------


@project_app.command("create")
def project_create(project: Path, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Create a draft project from a JSON file (name, methodology, region, crediting period, assets)."""
    _show(_call(url, api_key, "create_project", _read_json(project)))


@project_app.command("status")
def project_status(project: str, status: str, note: str = "", url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Move a project on: owners submit or withdraw; the registrar or a verifier validates."""
    result = _call(url, api_key, "set_project_status", project, status, note)
    typer.echo(f"{result['id']} is {result['status']}")


@report_app.command("create")
def report_create(
    project: str,
    data: Annotated[Path, typer.Option(help="Monitoring data: CSV, XLSX or Parquet")],
    params: Annotated[Path, typer.Option(help="The methodology's parameters (JSON)")],
    period_start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")],
    period_end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD")],
    account: Annotated[str, typer.Option(help="Your holding account for the credits")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Upload a period's data; the registry checks and quantifies it into a draft report."""
    report = _call(url, api_key, "create_report", project, data, _read_json(params), period_start, period_end,
                   account)
    q = report["quantification"]
    typer.echo(f"{report['id']} {report['status']}: net {report['net_reduction_kg']} kg CO2e"
               + (" — REJECTED by quality checks" if report["rejected_by_qa"] else ""))
    for vintage in q["vintages"]:
        typer.echo(f"  vintage {vintage['vintage_year']}: {vintage['net_reduction_kg']} kg")
    for finding in q["qa_findings"]:
        typer.echo(f"  {finding['severity']:6s} {finding['code']} ×{finding['count']}: {finding['message']}")


@report_app.command("submit")
def report_submit(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Submit a draft for verification."""
    typer.echo(f"{report} is {_call(url, api_key, 'submit_report', report)['status']}")


@report_app.command("show")
def report_show(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    _show(_call(url, api_key, "report", report))


# --- verifiers --------------------------------------------------------------------------------


@verifier_app.command("keygen")
def keygen(out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600)")]) -> None:
    """Make a signing key; prints the public key to give the registrar for accreditation."""
    if out.exists():
        typer.echo(f"{out} exists; not overwriting a key", err=True)
        raise typer.Exit(1)
    key = Ed25519PrivateKey.generate()
    write_private_key(out, key)
    typer.echo(public_key_pem(key), nl=False)


@verifier_app.command("take")
def take(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Take a submitted report for verification."""
    typer.echo(f"{report} is {_call(url, api_key, 'start_verification', report)['status']}")


@verifier_app.command("template")
def template(report: str, out: Path, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Save the statement to sign; lower verified_kg and write your opinion before signing."""
    out.write_text(json.dumps(_call(url, api_key, "statement_template", report), indent=2, ensure_ascii=False))
    typer.echo(f"statement written to {out}")


@verifier_app.command("sign")
def sign(statement: Path, key: Annotated[Path, typer.Option(help="Your private key (PEM)")]) -> None:
    """Sign a statement offline; prints the base64 signature."""
    try:
        private_key = load_private_key(key.read_bytes())
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot use {key}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(sign_statement(_read_json(statement), private_key))


@verifier_app.command("approve")
def approve(
    report: str,
    statement: Annotated[Path, typer.Option(help="The statement you signed")],
    signature: Annotated[str, typer.Option(help="Its signature, from `cir verifier sign`")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Submit the signed statement: the report is verified and its credits issued."""
    result = _call(url, api_key, "approve", report, _read_json(statement), signature)
    typer.echo(f"{report} is {result['report']['status']}; statement {result['statement_sha256']}")
    for issuance, entry in zip(result["issuances"], result["ledger_entries"], strict=True):
        typer.echo(f"  issuance {issuance}: ledger entry {entry} (cir proof entry {entry})")


# --- holders and anyone -----------------------------------------------------------------------


@account_app.command("open")
def account_open(name: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Open a holding account of your own; prints its id."""
    typer.echo(_call(url, api_key, "open_account", name)["id"])


@account_app.command("balances")
def balances(account: str, group_by: str = "", url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    _show(_call(url, api_key, "balances", account, group_by or None))


@proof_app.command("entry")
def entry_proof(entry: int, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save the proof bundle of a ledger entry (an issuance, a transfer); check it with `cir verify-proof`."""
    out.write_text(json.dumps(_call(url, None, "entry_proof", entry), indent=2))
    typer.echo(f"bundle written to {out}; key: {_call(url, None, 'log_key')}")


@proof_app.command("retirement")
def retirement_proof(retirement: str, out: Path, url: Url = DEFAULT_URL) -> None:
    out.write_text(json.dumps(_call(url, None, "retirement_proof", retirement), indent=2))
    typer.echo(f"bundle written to {out}; key: {_call(url, None, 'log_key')}")
