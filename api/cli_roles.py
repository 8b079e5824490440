"""`cir party|verifier|project|report|account|registry|proof|application …`, `cir transfer`, `cir transfer-batch`,
`cir retire`, `cir apply`: each role's steps against a running registry.

They talk HTTP through `api.client.RegistryClient`: `--url` (or CIR_URL) and `--api-key` (or
CIR_API_KEY). `cir verifier keygen`, `cir verifier sign` and `cir verify-statement` work offline:
a verifier's private key never leaves its machine. Heavy modules are imported inside the
commands, so that `cir --help` answers at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from api.client import RegistryClient

Url = Annotated[str, typer.Option("--url", envvar="CIR_URL", help="The registry's base URL")]
ApiKey = Annotated[str, typer.Option("--api-key", envvar="CIR_API_KEY", help="Your API key (cir_…)")]
Reason = Annotated[str, typer.Option(help="Why: kept with the record")]
DEFAULT_URL = "http://127.0.0.1:8000"

party_app = typer.Typer(help="The registrar: parties, their keys and status", no_args_is_help=True)
project_app = typer.Typer(help="Project owners and validators: projects and their documents", no_args_is_help=True)
report_app = typer.Typer(help="Project owners: monitoring reports; everyone concerned: the queue and comments",
                         no_args_is_help=True)
verifier_app = typer.Typer(help="Verifiers: keys, the queue, signed statements; the registrar: accreditations",
                           no_args_is_help=True)
account_app = typer.Typer(help="Holders: accounts, balances and history", no_args_is_help=True)
registry_app = typer.Typer(help="Anyone: search and export the public registry", no_args_is_help=True)
proof_app = typer.Typer(help="Anyone: proof bundles to verify offline", no_args_is_help=True)

T = TypeVar("T")


def _call(url: str, api_key: str | None, action: Callable[[RegistryClient], T]) -> T:
    """Run client calls; a refusal, or a registry that cannot be reached, prints one line and exits 1."""
    import httpx

    from api.client import RegistryAPIError, RegistryClient

    with RegistryClient(url, api_key or None) as client:
        try:
            return action(client)
        except RegistryAPIError as exc:
            hint = " (check --api-key or CIR_API_KEY)" if exc.status == 401 else ""
            typer.echo(f"refused: {exc}{hint}", err=True)
            raise typer.Exit(1) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"cannot reach the registry at {url}: {exc or type(exc).__name__} (check --url or CIR_URL)",
                       err=True)
            raise typer.Exit(1) from exc


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot read {path}: {exc}", err=True)
        raise typer.Exit(1) from exc


def _table(items: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain, aligned table: one line per item."""
    rows = [[str(item.get(c, "")) for c in columns] for item in items]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# --- the registrar ----------------------------------------------------------------------------


@party_app.command("create")
def party_create(
    name: str,
    role: Annotated[list[str], typer.Option(help="registrar, project_owner, verifier, buyer, auditor")],
    kind: Annotated[str, typer.Option(help="organisation or individual")] = "organisation",
    region: Annotated[str | None, typer.Option(help="ISO 3166-2, e.g. CN-JS")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Register a party and print its id and a first API key (shown once)."""
    party = _call(url, api_key, lambda c: c.create_party(name, kind, role, region))
    key = _call(url, api_key, lambda c: c.create_api_key(party["id"], "first key"))
    typer.echo(f"party {party['id']}\napi key {key}")


@party_app.command("list")
def party_list(
    q: Annotated[str | None, typer.Option(help="Part of the name")] = None,
    role: str | None = None,
    status: Annotated[str | None, typer.Option(help="active or suspended")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Search the parties (registrar, auditors)."""
    found = _call(url, api_key, lambda c: c.parties(q=q, role=role, status=status, limit=500))
    _table(found["items"], ["id", "name", "kind", "roles", "region", "status"])


@party_app.command("show")
def party_show(party: str, url: Url = DEFAULT_URL) -> None:
    """A party's public profile."""
    _show(_call(url, None, lambda c: c.party(party)))


@party_app.command("suspend")
def party_suspend(party: str, reason: Reason, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Suspend a party: its keys stop working until it is reactivated."""
    typer.echo(f"{party} is {_call(url, api_key, lambda c: c.suspend_party(party, reason))['status']}")


@party_app.command("reactivate")
def party_reactivate(party: str, reason: Reason, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Reactivate a suspended party."""
    typer.echo(f"{party} is {_call(url, api_key, lambda c: c.reactivate_party(party, reason))['status']}")


@verifier_app.command("accredit")
def accredit(
    party: str,
    public_key: Annotated[Path, typer.Option(help="The verifier's public key (PEM), from `cir verifier keygen`")],
    methodology: Annotated[list[str], typer.Option(help="A methodology id (CIR-PV-DG), one version (CIR-PV-DG@1.0), "
                                                        "or '*'")],
    region: Annotated[list[str], typer.Option(help="An ISO 3166-2 region (CN-JS), or '*'")],
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    valid_until: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Accredit a verification body (registrar)."""
    result = _call(url, api_key, lambda c: c.accredit(party, public_key.read_text(), methodology, region,
                                                      valid_from, valid_until))
    scope = "; ".join(f"{s['methodology_id']}{'@' + s['methodology_version'] if s['methodology_version'] else ''} "
                      f"in {s['region']}" for s in result["scope"])
    typer.echo(f"accreditation {result['id']}: key {result['key_id']}, {scope}, "
               f"{result['valid_from']} to {result['valid_until']}")


def _accreditation_status(action: str) -> Callable[..., None]:
    def command(accreditation: str, reason: Reason, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        result = _call(url, api_key, lambda c: c.set_accreditation_status(accreditation, action, reason))
        typer.echo(f"{accreditation} is {result['status']}")
    return command


verifier_app.command("suspend", help="Suspend an accreditation (registrar): no taking, no approving.")(
    _accreditation_status("suspension"))
verifier_app.command("reinstate", help="Reinstate a suspended accreditation (registrar).")(
    _accreditation_status("reinstatement"))
verifier_app.command("revoke", help="Revoke an accreditation for good (registrar).")(
    _accreditation_status("revocation"))


# --- project owners and validators ------------------------------------------------------------


@project_app.command("create")
def project_create(project: Path, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Create a draft project from a JSON file (name, methodology, region, crediting period, assets)."""
    _show(_call(url, api_key, lambda c: c.create_project(_read_json(project))))


@project_app.command("show")
def project_show(project: str, url: Url = DEFAULT_URL) -> None:
    """A project as the public registry shows it."""
    _show(_call(url, None, lambda c: c.project(project)))


@project_app.command("status")
def project_status(
    project: str,
    status: Annotated[str, typer.Argument(help="submitted, withdrawn, under_validation, registered, "
                                               "changes_requested, rejected, suspended, completed")],
    note: str = "", url: Url = DEFAULT_URL, api_key: ApiKey = "",
) -> None:
    """Move a project on: owners submit or withdraw; the registrar or a verifier validates."""
    result = _call(url, api_key, lambda c: c.set_project_status(project, status, note))
    typer.echo(f"{result['id']} is {result['status']}")


@project_app.command("document")
def project_document(
    project: str,
    file: Path,
    title: Annotated[str, typer.Option(help="What the document is")],
    kind: Annotated[str, typer.Option(help="design, permit, other (owner); validation_report (validator)")] = "other",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Upload a document and file it with a project."""
    documents = _call(url, api_key, lambda c: c.file_document(project, file, title, kind))
    typer.echo(f"{project} has {len(documents)} document(s); {file.name} filed as {kind}")


def _print_report(report: dict[str, Any]) -> None:
    quantification = report["quantification"]
    typer.echo(f"{report['id']} {report['status']}: net {report['net_reduction_kg']} kg CO2e"
               + (" — REJECTED by quality checks" if report["rejected_by_qa"] else ""))
    for vintage in quantification["vintages"]:
        typer.echo(f"  vintage {vintage['vintage_year']}: {vintage['net_reduction_kg']} kg")
    for finding in quantification["qa_findings"]:
        typer.echo(f"  {finding['severity']:6s} {finding['code']} ×{finding['count']}: {finding['message']}")


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
    parameters = _read_json(params)
    _print_report(_call(url, api_key, lambda c: c.create_report(project, data, parameters, period_start, period_end,
                                                                account)))


@report_app.command("replace-data")
def report_replace_data(
    report: str,
    data: Annotated[Path, typer.Option(help="The corrected data")],
    params: Annotated[Path, typer.Option(help="The methodology's parameters (JSON)")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Replace a draft's data, or answer requested changes (a new revision); then `report submit` again."""
    parameters = _read_json(params)
    _print_report(_call(url, api_key, lambda c: c.replace_report_data(report, data, parameters)))


@report_app.command("submit")
def report_submit(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Submit a draft for verification, or resubmit it after changes."""
    typer.echo(f"{report} is {_call(url, api_key, lambda c: c.submit_report(report))['status']}")


@report_app.command("show")
def report_show(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """The report with its quantification (its insiders only)."""
    _show(_call(url, api_key, lambda c: c.report(report)))


@report_app.command("list")
def report_list(
    status: str | None = None,
    methodology: str | None = None,
    region: str | None = None,
    project: str | None = None,
    mine: Annotated[bool, typer.Option("--mine", help="Reports assigned to you (verifiers)")] = False,
    waiting: Annotated[bool, typer.Option("--waiting", help="Submitted reports you may take (verifiers)")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Reports you may see: a verifier's queue (--waiting, --mine), an owner's reports, all for the registrar."""
    found = _call(url, api_key, lambda c: c.reports(
        status=status, methodology_id=methodology, region=region, project=project,
        assigned="me" if mine else None, waiting=waiting, limit=500))
    _table(found["items"], ["id", "status", "project_name", "methodology_id", "region", "period_start",
                            "period_end", "net_reduction_kg", "verifier"])


@report_app.command("comment")
def report_comment(report: str, note: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Comment on a report: the comment joins its trail."""
    _call(url, api_key, lambda c: c.comment(report, note))
    typer.echo(f"comment added to {report}")


@report_app.command("trail")
def report_trail(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Every step of a report, with its notes."""
    events = _call(url, api_key, lambda c: c.report_trail(report))
    _table(events, ["at", "actor_name", "action", "from_status", "to_status", "note"])


# --- verifiers --------------------------------------------------------------------------------


@verifier_app.command("keygen")
def keygen(out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600)")]) -> None:
    """Make a signing key; prints the public key to give the registrar for accreditation."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry.ledger.signing import write_private_key
    from verification.statements import public_key_pem

    if out.exists():
        typer.echo(f"{out} exists; not overwriting a key", err=True)
        raise typer.Exit(1)
    key = Ed25519PrivateKey.generate()
    write_private_key(out, key)
    typer.echo(public_key_pem(key), nl=False)


@verifier_app.command("take")
def take(report: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Take a submitted report for verification."""
    typer.echo(f"{report} is {_call(url, api_key, lambda c: c.start_verification(report))['status']}")


@verifier_app.command("template")
def template(
    report: str, out: Path,
    opinion: Annotated[str, typer.Option(help="Your opinion (required before signing; or edit the file)")] = "",
    url: Url = DEFAULT_URL, api_key: ApiKey = "",
) -> None:
    """Save the statement to sign; lower verified_kg and write your opinion before signing."""
    save_template(_call(url, api_key, lambda c: c.statement_template(report)), out, opinion)


def save_template(statement: dict[str, Any], out: Path, opinion: str) -> None:
    """Write a statement to sign, with the opinion if one is given here."""
    if opinion:
        statement["opinion"] = opinion
    out.write_text(json.dumps(statement, indent=2, ensure_ascii=False))
    typer.echo(f"statement written to {out}")


def statement_summary(statement: dict[str, Any]) -> str:
    """What a statement says, for a person about to sign it or checking it."""
    if statement.get("type") == "cir-inventory-statement":
        return _inventory_statement_summary(statement)
    project, owner, period = statement.get("project", {}), statement.get("owner", {}), statement.get("period", {})
    lines = [
        f"report {statement.get('report')} revision {statement.get('revision')}",
        f"project {project.get('name')} ({project.get('id')}, {project.get('region')})",
        f"owner {owner.get('name')} ({owner.get('party')}); credits to account {statement.get('account')}",
        f"period {period.get('start')} to {period.get('end')}; methodology {statement['methodology']['id']} "
        f"{statement['methodology']['version']}; data {str(statement.get('data_sha256'))[:16]}…",
    ]
    for vintage in sorted(statement.get("verified_kg", {}), key=int):
        lines.append(f"  vintage {vintage}: verified {statement['verified_kg'][vintage]:,} kg of "
                     f"{statement['computed_kg'][vintage]:,} computed; buffer share "
                     f"{statement.get('buffer_kg', {}).get(vintage, 0):,} kg")
    lines.append(f"findings: {', '.join(f['code'] for f in statement.get('findings', [])) or 'none'}")
    lines.append(f"opinion: {statement.get('opinion') or '(none — write one before signing)'}")
    lines.append(f"signed at {statement.get('signed_at')} by {statement['verifier'].get('name')} "
                 f"(key {statement['verifier'].get('key_id')})")
    return "\n".join(lines)


def _inventory_statement_summary(statement: dict[str, Any]) -> str:
    facility, party, period = statement["facility"], statement["party"], statement["period"]
    emissions = statement["emissions_kg"]
    return "\n".join([
        f"emission inventory {statement['inventory']} version {statement['version']}",
        f"facility {facility['name']} ({facility['id']}, {facility['region']}, boundary type {facility['boundary']}) "
        f"of {party['name']} ({party['id']})",
        f"period {period['start']} to {period['end']}; data {str(statement['data_sha256'])[:16]}…",
        f"scope 1 {emissions['scope1']:,} kg; scope 2 {emissions['scope2_location']:,} kg location-based, "
        f"{emissions['scope2_market']:,} kg market-based; scope 3 {emissions['scope3']:,} kg",
        f"residual calculated {emissions['residual']:,} kg; verified {statement.get('verified_residual_kg'):,} kg",
        f"green electricity certificates: {', '.join(statement['green_certificates']) or 'none'}",
        f"opinion: {statement.get('opinion') or '(none — write one before signing)'}",
        f"signed at {statement.get('signed_at')} by {statement['verifier'].get('name')} "
        f"(key {statement['verifier'].get('key_id')})",
    ])


@verifier_app.command("sign")
def sign(statement: Path, key: Annotated[Path, typer.Option(help="Your private key (PEM)")]) -> None:
    """Sign a statement offline: shows what you sign (on stderr), then prints the base64 signature."""
    from verification.statements import load_private_key, sign_statement

    document = _read_json(statement)
    try:
        private_key = load_private_key(key.read_bytes())
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot use {key}: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        typer.echo(f"signing:\n{statement_summary(document)}", err=True)
    except (KeyError, TypeError, AttributeError) as exc:
        typer.echo(f"{statement} is not a statement from `cir verifier template`: {exc!r}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(sign_statement(document, private_key))


@verifier_app.command("approve")
def approve(
    report: str,
    statement: Annotated[Path, typer.Option(help="The statement you signed")],
    signature: Annotated[str, typer.Option(help="Its signature, from `cir verifier sign`")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Submit the signed statement: the report is verified and its credits issued."""
    document = _read_json(statement)
    result = _call(url, api_key, lambda c: c.approve(report, document, signature))
    typer.echo(f"{report} is {result['report']['status']}; statement {result['statement_sha256']}")
    for issuance, entry in zip(result["issuances"], result["ledger_entries"], strict=True):
        typer.echo(f"  issuance {issuance}: ledger entry {entry} (cir proof entry {entry})")


@verifier_app.command("request-changes")
def request_changes(report: str, note: Annotated[str, typer.Option(help="What to change")], url: Url = DEFAULT_URL,
                    api_key: ApiKey = "") -> None:
    """Send the report back to its owner; once resubmitted it returns to you."""
    typer.echo(f"{report} is {_call(url, api_key, lambda c: c.request_changes(report, note))['status']}")


@verifier_app.command("reject")
def reject(report: str, note: Annotated[str, typer.Option(help="Why")], url: Url = DEFAULT_URL,
           api_key: ApiKey = "") -> None:
    """Reject the report for good."""
    typer.echo(f"{report} is {_call(url, api_key, lambda c: c.reject(report, note))['status']}")


def verify_statement(
    file: Annotated[Path, typer.Argument(help="A signed statement: GET /api/v1/issuances/{id}/statement")],
    key: Annotated[Path | None, typer.Option(help="The verifier's public key (PEM); default: the one in the file, "
                                                  "which you should compare with GET /api/v1/verifiers")] = None,
) -> None:
    """Check a signed verification statement offline and print what it certifies."""
    from verification.statements import BadSignature, load_public_key, statement_sha256, verify_statement_signature

    signed = _read_json(file)
    try:
        pem = key.read_text() if key is not None else signed["verifier"]["public_key_pem"]
        statement, signature = signed["statement"], signed["signature"]
        verify_statement_signature(load_public_key(pem), statement, signature)
    except (KeyError, TypeError, ValueError, OSError, BadSignature) as exc:
        typer.echo(f"NOT VERIFIED: {exc}", err=True)
        raise typer.Exit(1) from exc
    digest = statement_sha256(statement)
    if signed.get("sha256") not in (None, digest):
        typer.echo(f"NOT VERIFIED: the statement hashes to {digest}, not the {signed['sha256']} it claims", err=True)
        raise typer.Exit(1)
    typer.echo(f"VERIFIED: signed by key {statement['verifier']['key_id']}; SHA-256 {digest}")
    typer.echo(statement_summary(statement))


# --- holders ----------------------------------------------------------------------------------


@account_app.command("open")
def account_open(name: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Open a holding account of your own; prints its id."""
    typer.echo(_call(url, api_key, lambda c: c.open_account(name))["id"])


@account_app.command("balances")
def balances(account: str, group_by: Annotated[str, typer.Option(help="project, vintage or methodology")] = "",
             url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Quantities held, by status (optionally grouped)."""
    _show(_call(url, api_key, lambda c: c.balances(account, group_by or None)))


@account_app.command("history")
def account_history(account: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Every movement into and out of the account, oldest first."""
    def every_line(client: RegistryClient) -> list[dict[str, Any]]:
        lines, cursor = [], None
        while True:
            found = client.history(account, cursor, 500)
            lines += found["items"]
            cursor = found["next_cursor"]
            if cursor is None:
                return lines

    lines = _call(url, api_key, every_line)
    _table(lines, ["at", "type", "id", "direction", "quantity_kg", "counterparty"])


def transfer(
    from_account: Annotated[str, typer.Option("--from", help="Your holding account")],
    to_account: Annotated[str, typer.Option("--to", help="The receiving account")],
    quantity_kg: Annotated[int | None, typer.Option(help="Kilograms, oldest vintage first")] = None,
    issuance: Annotated[str | None, typer.Option(help="With --first/--last: an exact serial range")] = None,
    first: int | None = None,
    last: int | None = None,
    vintage: Annotated[int | None, typer.Option(help="Only credits of this vintage")] = None,
    project: Annotated[str | None, typer.Option(help="Only credits of this project")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retrying with the same key does it once")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Transfer credits: a quantity oldest vintage first, or an exact serial range."""
    serial_range = {"issuance": issuance, "first_unit": first, "last_unit": last} if issuance else None
    moved = _call(url, api_key, lambda c: c.transfer(from_account, to_account, quantity_kg, serial_range,
                                                     idempotency_key, vintage=vintage, project=project))
    typer.echo(f"{moved['id']}: {moved['quantity_kg']} kg to {moved['to_account']} "
               f"(ledger entry {moved['ledger_entry']})")
    for units in moved["units"]:
        typer.echo(f"  {units['serial']}")


def _read_batch(file: Path, parse: Callable[[str], list[T]]) -> list[T]:
    from registry.errors import RegistryError

    try:
        return parse(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RegistryError) as exc:
        typer.echo(f"cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from exc


def transfer_batch(
    file: Annotated[Path, typer.Argument(help="CSV: from_account,to_account,quantity_kg, one transfer a line")],
    issuance: Annotated[str | None, typer.Option(
        help="Units of this issuance only, in serial order: distribute an issuance")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retrying with the same key does it once")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Up to 10,000 transfers in one command, all or none (oldest units first); prints each one's ledger entry."""
    from registry.credits import batch_from_csv

    transfers = [vars(transfer) for transfer in _read_batch(file, batch_from_csv)]
    done = _call(url, api_key, lambda c: c.transfer_batch(transfers, idempotency_key, issuance))["transfers"]
    _table(done, ["id", "from_account", "to_account", "quantity_kg", "ledger_entry"])
    typer.echo(f"{len(done):,} transfers, {sum(t['quantity_kg'] for t in done):,} kg")


def retire_batch(
    file: Annotated[Path, typer.Argument(help=(
        "CSV: from_account,quantity_kg,beneficiary_name,beneficiary_type,purpose,claim_period_start,"
        "claim_period_end[,public_note], one retirement a line"))],
    idempotency_key: Annotated[str | None, typer.Option(help="Retrying with the same key does it once")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Up to 10,000 retirements in one command, all or none (oldest units first); prints each one's id."""
    from registry.credits import retirement_batch_from_csv

    retirements = [{"from_account": r.from_account, "quantity_kg": r.quantity_kg,
                    "beneficiary_name": r.details.beneficiary_name, "beneficiary_type": r.details.beneficiary_type,
                    "purpose": r.details.purpose, "claim_period_start": r.details.claim_period_start.isoformat(),
                    "claim_period_end": r.details.claim_period_end.isoformat(), "public_note": r.details.public_note}
                   for r in _read_batch(file, retirement_batch_from_csv)]
    done = _call(url, api_key, lambda c: c.retire_batch(retirements, idempotency_key))["retirements"]
    _table(done, ["id", "from_account", "quantity_kg", "ledger_entry"])
    typer.echo(f"{len(done):,} retirements, {sum(r['quantity_kg'] for r in done):,} kg; "
               "each one's proof: cir proof retirement ID bundle.json")


def retire(
    from_account: Annotated[str, typer.Option("--from", help="Your holding account")],
    beneficiary: Annotated[str, typer.Option(help="Who the retirement is for")],
    purpose: Annotated[str, typer.Option(help="What it offsets")],
    claim_period_start: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    claim_period_end: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    quantity_kg: Annotated[int | None, typer.Option(help="Kilograms, oldest vintage first")] = None,
    beneficiary_type: Annotated[str, typer.Option(help="organisation, individual, product or event")] = "organisation",
    note: Annotated[str, typer.Option(help="A public note")] = "",
    issuance: Annotated[str | None, typer.Option(help="With --first/--last: an exact serial range")] = None,
    first: int | None = None,
    last: int | None = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retrying with the same key does it once")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Retire credits for a beneficiary and claim period; prints the retirement and its proof address."""
    serial_range = {"issuance": issuance, "first_unit": first, "last_unit": last} if issuance else None
    retired = _call(url, api_key, lambda c: c.retire(
        from_account, beneficiary, beneficiary_type, purpose, claim_period_start, claim_period_end, quantity_kg,
        serial_range, note, idempotency_key))
    typer.echo(f"{retired['id']}: {retired['quantity_kg']} kg retired for {retired['beneficiary_name']}")
    typer.echo(f"  proof: {retired['proof_url']} (cir proof retirement {retired['id']} bundle.json)")


# --- the public registry ----------------------------------------------------------------------


LISTINGS = {
    "projects": ["id", "name", "owner_name", "methodology_id", "region", "status"],
    "issuances": ["id", "project_name", "methodology_id", "region", "vintage", "quantity_kg", "to_buffer_pool"],
    "retirements": ["id", "retired_at", "quantity_kg", "beneficiary_name", "purpose"],
    "blocks": ["serial", "status", "quantity_kg", "retirement"],
}


def _listing(name: str) -> Callable[..., None]:
    def command(
        filter_: Annotated[list[str] | None, typer.Option("--filter", help="NAME=VALUE, e.g. region=CN-JS; repeat")
                           ] = None,
        csv: Annotated[Path | None, typer.Option(help="Write every match to this CSV file instead")] = None,
        url: Url = DEFAULT_URL,
    ) -> None:
        filters: dict[str, str] = {}
        for item in filter_ or []:
            key, sep, value = item.partition("=")
            if not sep:
                typer.echo(f"write each filter as NAME=VALUE, not {item!r}", err=True)
                raise typer.Exit(1)
            filters[key] = value
        if csv is not None:
            text = _call(url, None, lambda c: c.export_csv(name, **filters))
            csv.write_text(text, encoding="utf-8")
            typer.echo(f"{max(0, text.count(chr(10)) - 1)} rows written to {csv}")
            return
        found = _call(url, None, lambda c: c.request("GET", f"/{name}", params={**filters, "limit": 500}))
        _table(found["items"], LISTINGS[name])
    return command


for _name in LISTINGS:
    registry_app.command(_name, help=f"Search the public {_name} (--filter NAME=VALUE …); --csv FILE exports all")(
        _listing(_name))


@registry_app.command("stats")
def stats(url: Url = DEFAULT_URL) -> None:
    """Issued, retired, held and in the buffer pool, by methodology, region, vintage and month."""
    _show(_call(url, None, lambda c: c.stats()))


# --- anyone -----------------------------------------------------------------------------------


@proof_app.command("entry")
def entry_proof(entry: int, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save the proof bundle of a ledger entry (an issuance, a transfer); check it with `cir verify-proof`."""
    out.write_text(json.dumps(_call(url, None, lambda c: c.entry_proof(entry)), indent=2))
    typer.echo(f"bundle written to {out}; key: {_call(url, None, lambda c: c.log_key())}")


@proof_app.command("retirement")
def retirement_proof(retirement: str, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save a retirement's proof bundle; check it with `cir verify-proof`."""
    out.write_text(json.dumps(_call(url, None, lambda c: c.retirement_proof(retirement)), indent=2))
    typer.echo(f"bundle written to {out}; key: {_call(url, None, lambda c: c.log_key())}")


@proof_app.command("certificate")
def certificate_proof(certificate: str, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save a net-zero certificate's proof bundle (its entry and every retirement's); check it with
    `cir verify-proof`."""
    out.write_text(json.dumps(_call(url, None, lambda c: c.certificate_proof(certificate)), indent=2,
                              ensure_ascii=False))
    typer.echo(f"bundle written to {out}; key: {_call(url, None, lambda c: c.log_key())}")


@proof_app.command("statement")
def statement_proof(issuance: str, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save the signed verification statement behind an issuance; check it with `cir verify-statement`."""
    out.write_text(json.dumps(_call(url, None, lambda c: c.issuance_statement(issuance)), indent=2,
                              ensure_ascii=False))
    typer.echo(f"statement written to {out}")


# --- account applications ---------------------------------------------------------------------

application_app = typer.Typer(help="The registrar: account applications; applicants: claim the key",
                              no_args_is_help=True)


def apply(
    name: Annotated[str, typer.Option(help="The applicant's full name (a household: the person's name)")],
    region: Annotated[str, typer.Option(help="ISO 3166-2, e.g. CN-JS")],
    address: Annotated[str, typer.Option(help="Postal address")],
    role: Annotated[str, typer.Option(help="project_owner (registers reductions) or buyer (buys and retires)")],
    description: Annotated[str, typer.Option(help='What you will register, e.g. "8 kWp rooftop PV, 2024"')],
    consent: Annotated[bool, typer.Option("--consent", help="Agree to the processing of the personal data given "
                                                            "here (PIPL): required")] = False,
    phone: Annotated[str | None, typer.Option(help="A phone number (a phone or an e-mail is required)")] = None,
    email: Annotated[str | None, typer.Option(help="An e-mail address")] = None,
    kind: Annotated[str, typer.Option(help="individual (a household) or organisation")] = "individual",
    url: Url = DEFAULT_URL,
) -> None:
    """Apply for an account; prints the reference and the claim code (shown once: write it down)."""
    body = {"name": name, "kind": kind, "region": region, "address": address, "phone": phone, "email": email,
            "role": role, "description": description, "consent": consent}
    receipt = _call(url, None, lambda c: c.apply({k: v for k, v in body.items() if v is not None}))
    typer.echo(f"reference {receipt['id']}\nclaim code {receipt['claim_code']} (shown once: write it down)\n"
               f"once approved: cir application claim {receipt['id']} --code {receipt['claim_code']}")


@application_app.command("list")
def application_list(
    status: Annotated[str | None, typer.Option(help="submitted, approved or rejected")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Applications, oldest first (registrar)."""
    found = _call(url, api_key, lambda c: c.applications(status=status, limit=500))
    _table(found["items"], ["id", "status", "name", "kind", "role", "region", "created_at"])


@application_app.command("show")
def application_show(application: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """One application with its contact details (registrar)."""
    _show(_call(url, api_key, lambda c: c.application(application)))


@application_app.command("approve")
def application_approve(application: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Approve (registrar): creates the party and its account "Main"."""
    result = _call(url, api_key, lambda c: c.approve_application(application))
    typer.echo(f"{application} is {result['status']}: party {result['party']}")


@application_app.command("reject")
def application_reject(application: str, reason: Reason, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Reject with a reason the applicant reads (registrar)."""
    typer.echo(f"{application} is {_call(url, api_key, lambda c: c.reject_application(application, reason))['status']}")


@application_app.command("claim")
def application_claim(
    application: str,
    code: Annotated[str, typer.Option(help="The claim code given when applying")],
    url: Url = DEFAULT_URL,
) -> None:
    """Collect the API key of an approved application (shown once)."""
    claimed = _call(url, None, lambda c: c.claim(application, code))
    typer.echo(f"party {claimed['party']}\napi key {claimed['api_key']} (shown once: keep it safe)")
