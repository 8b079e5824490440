"""`cir facility|inventory|claim|certificate …`: a factory's way from activity data to a net-zero
certificate, the verifier's review of an inventory, and anyone's look at certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli_roles import DEFAULT_URL, ApiKey, Reason, Url, _call, _read_json, _show, _table, save_template

facility_app = typer.Typer(help="Factories: facilities (sites) with their region and boundary", no_args_is_help=True)
inventory_app = typer.Typer(help="Factories: emission inventories; verifiers: their review and signed statement",
                            no_args_is_help=True)
claim_app = typer.Typer(help="Factories: net-zero claims, retirements for them, certificates", no_args_is_help=True)
certificate_app = typer.Typer(help="Anyone: net-zero certificates and their PDF (proof: `cir proof certificate`); "
                                   "the registrar: revocation",
                              no_args_is_help=True)


def _tonnes(kg: int | None) -> str:
    return "—" if kg is None else f"{kg // 1000:,}.{kg % 1000:03d} t"


# --- facilities -------------------------------------------------------------------------------


@facility_app.command("register")
def facility_register(
    name: str,
    region: Annotated[str, typer.Option(help="ISO 3166-2, e.g. CN-GD")],
    address: Annotated[str, typer.Option()],
    industry: Annotated[str, typer.Option(help="e.g. Ready-mix concrete")],
    boundary: Annotated[str, typer.Option(help="I: scope 1 and 2; II: scope 1, 2 and 3")] = "I",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Register a facility (a party with the buyer role)."""
    facility = _call(url, api_key, lambda c: c.register_facility(name, region, address, industry, boundary))
    typer.echo(f"facility {facility['id']}: {facility['name']}, {facility['region']}, boundary type "
               f"{facility['boundary']}")


@facility_app.command("list")
def facility_list(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your facilities."""
    _table(_call(url, api_key, lambda c: c.facilities()), ["id", "name", "region", "industry", "boundary"])


# --- inventories ------------------------------------------------------------------------------


def _print_inventory(inventory: dict[str, Any]) -> None:
    emissions = inventory["emissions_kg"]
    share = inventory["renewable_electricity_share_bp"]
    typer.echo(f"inventory {inventory['id']} version {inventory['version']} ({inventory['status']}): "
               f"{inventory['facility_name']}, {inventory['period_start']} to {inventory['period_end']}")
    typer.echo(f"  scope 1 {_tonnes(emissions['scope1'])}; scope 2 {_tonnes(emissions['scope2_location'])} "
               f"location-based, {_tonnes(emissions['scope2_market'])} market-based; scope 3 "
               f"{_tonnes(emissions['scope3'])}; renewable electricity {share // 100}.{share % 100:02d} %")
    typer.echo(f"  residual to cover: {_tonnes(emissions['residual'])}"
               + (f"; verified {_tonnes(inventory['verified_residual_kg'])}"
                  if inventory["verified_residual_kg"] is not None else ""))
    for flag in inventory["flags"]:
        typer.echo(f"  FLAG: {flag}")
    if inventory["comment"]:
        typer.echo(f"  verifier: {inventory['comment']}")


@inventory_app.command("file")
def inventory_file(
    facility: str,
    data: Annotated[Path, typer.Option(help="Activity data, CSV or XLSX (docs/inventory.md)")],
    period_start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD")],
    period_end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (12 months, over)")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Upload activity data and file the inventory (a new version if one exists): calculated at once."""
    _print_inventory(_call(url, api_key, lambda c: c.file_inventory(facility, data, period_start, period_end)))


@inventory_app.command("show")
def inventory_show(inventory: str, url: Url = DEFAULT_URL, api_key: ApiKey = "",
                   lines: Annotated[bool, typer.Option("--lines", help="Every line of the calculation")] = False
                   ) -> None:
    """An inventory's figures by scope (and with --lines, every source, factor and kg)."""
    found = _call(url, api_key, lambda c: c.inventory(inventory))
    _print_inventory(found)
    if lines:
        _show(found["calculation"])


@inventory_app.command("list")
def inventory_list(
    waiting: Annotated[bool, typer.Option("--waiting", help="Submitted inventories you may take (verifiers)")] = False,
    facility: str | None = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Inventories you may see: yours, a verifier's queue (--waiting) and assignments."""
    found = _call(url, api_key, lambda c: c.inventories(waiting=waiting, facility=facility, limit=500))
    rows = [item | {"residual_kg": item["emissions_kg"]["residual"]} for item in found["items"]]
    _table(rows, ["id", "status", "facility_name", "region", "period_start", "period_end", "version", "residual_kg"])


@inventory_app.command("take")
def inventory_take(inventory: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Take a submitted inventory for verification (verifier)."""
    typer.echo(f"{inventory} is {_call(url, api_key, lambda c: c.start_inventory_verification(inventory))['status']}")


@inventory_app.command("template")
def inventory_template(
    inventory: str, out: Path,
    opinion: Annotated[str, typer.Option(help="Your opinion (required before signing; or edit the file)")] = "",
    url: Url = DEFAULT_URL, api_key: ApiKey = "",
) -> None:
    """Save the statement to sign (verifier); raise verified_residual_kg if you find more emissions.
    Sign it with `cir verifier sign`."""
    save_template(_call(url, api_key, lambda c: c.inventory_statement_template(inventory)), out, opinion)


@inventory_app.command("approve")
def inventory_approve(
    inventory: str,
    statement: Annotated[Path, typer.Option(help="The statement you signed")],
    signature: Annotated[str, typer.Option(help="Its signature, from `cir verifier sign`")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Submit the signed statement: the inventory is verified (verifier)."""
    document = _read_json(statement)
    _print_inventory(_call(url, api_key, lambda c: c.approve_inventory(inventory, document, signature)))


@inventory_app.command("request-changes")
def inventory_request_changes(inventory: str, note: Annotated[str, typer.Option(help="What to change")],
                              url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Send the inventory back: the factory files a corrected version (verifier)."""
    typer.echo(f"{inventory} is "
               f"{_call(url, api_key, lambda c: c.request_inventory_changes(inventory, note))['status']}")


@inventory_app.command("reject")
def inventory_reject(inventory: str, note: Annotated[str, typer.Option(help="Why")], url: Url = DEFAULT_URL,
                     api_key: ApiKey = "") -> None:
    """Reject the inventory (verifier)."""
    typer.echo(f"{inventory} is {_call(url, api_key, lambda c: c.reject_inventory(inventory, note))['status']}")


# --- claims -----------------------------------------------------------------------------------


def _print_claim(claim: dict[str, Any]) -> None:
    typer.echo(f"claim {claim['id']}: {claim['facility_name']} ({claim['region']}), {claim['period_start']} to "
               f"{claim['period_end']}; retire by {claim['retire_by']}")
    typer.echo(f"  covered {_tonnes(claim['covered_kg'])} of {_tonnes(claim['residual_kg'])}; "
               f"{_tonnes(claim['remaining_kg'])} to go (reductions {_tonnes(claim['reductions_kg'])}, removals "
               f"{_tonnes(claim['removals_kg'])}, from other regions {_tonnes(claim['cross_regional_kg'])})")
    for line in claim["offsets"]:
        typer.echo(f"  {line['serial']}  {line['kind']}  {line['region']}  {line['vintage']}  "
                   f"{_tonnes(line['quantity_kg'])}{'  cross-regional' if line['cross_regional'] else ''}")
    if claim["certificate"]:
        typer.echo(f"  certificate {claim['certificate']}")


@claim_app.command("open")
def claim_open(facility: str, period_start: Annotated[str, typer.Option(help="YYYY-MM-DD")], url: Url = DEFAULT_URL,
               api_key: ApiKey = "") -> None:
    """Open the net-zero claim for a facility's verified inventory."""
    _print_claim(_call(url, api_key, lambda c: c.open_net_zero_claim(facility, period_start)))


@claim_app.command("show")
def claim_show(claim: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """A claim's progress: covered against the verified residual, line by line."""
    _print_claim(_call(url, api_key, lambda c: c.net_zero_claim(claim)))


@claim_app.command("list")
def claim_list(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your claims."""
    _table(_call(url, api_key, lambda c: c.net_zero_claims()),
           ["id", "facility_name", "period_start", "period_end", "residual_kg", "covered_kg", "certificate"])


@claim_app.command("retire")
def claim_retire(
    claim: str,
    account: Annotated[str, typer.Option("--from", help="Your holding account")],
    quantity_kg: Annotated[int | None, typer.Option(help="Oldest vintage first")] = None,
    issuance: Annotated[str | None, typer.Option(help="With --first/--last: an exact serial range")] = None,
    first: int | None = None,
    last: int | None = None,
    note: str = "",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Retire credits for the claim (they name it and back it alone)."""
    serial_range = {"issuance": issuance, "first_unit": first, "last_unit": last} if issuance else None
    _print_claim(_call(url, api_key, lambda c: c.retire_for_claim(claim, account, quantity_kg, serial_range, note)))


@claim_app.command("attach")
def claim_attach(claim: str, retirement: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Let an earlier retirement of yours for the period back the claim."""
    _print_claim(_call(url, api_key, lambda c: c.attach_retirement(claim, retirement)))


@claim_app.command("certify")
def claim_certify(claim: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Certify a covered claim: prints the certificate's number and where to find it."""
    certificate = _call(url, api_key, lambda c: c.certify_claim(claim))
    typer.echo(f"certificate {certificate['number']} ({certificate['id']}), valid {certificate['valid_from']} to "
               f"{certificate['valid_until']}: {url.rstrip('/')}/certificates/{certificate['id']}")


# --- certificates -----------------------------------------------------------------------------


@certificate_app.command("list")
def certificate_list(
    region: str | None = None,
    year: int | None = None,
    status: Annotated[str | None, typer.Option(help="valid, expired, insufficient or revoked")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Search the net-zero certificates (public)."""
    found = _call(url, None, lambda c: c.certificates(region=region, year=year, status=status, limit=500))
    _table(found["items"], ["number", "status", "facility_name", "region", "period_start", "period_end",
                            "residual_kg", "covered_kg", "valid_until"])


@certificate_app.command("show")
def certificate_show(certificate: str, url: Url = DEFAULT_URL) -> None:
    """A certificate and its status now."""
    _show(_call(url, None, lambda c: c.certificate(certificate)))


@certificate_app.command("pdf")
def certificate_pdf(certificate: str, out: Path, url: Url = DEFAULT_URL) -> None:
    """Save the certificate's PDF (Chinese and English, with a QR code to its page)."""
    out.write_bytes(_call(url, None, lambda c: c.certificate_pdf(certificate)))
    typer.echo(f"certificate written to {out}")


@certificate_app.command("revoke")
def certificate_revoke(certificate: str, reason: Reason, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Revoke a certificate with its public reason (registrar)."""
    result = _call(url, api_key, lambda c: c.revoke_certificate(certificate, reason))
    typer.echo(f"certificate {result['number']} is {result['status']}")
