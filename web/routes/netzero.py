"""Net-zero pages: the public certificates (with the proof checked in the visitor's browser), the
factory's workspace (facilities, inventory upload with figures by scope, claims covered against the
residual, retiring for a claim, certifying) and the verifier's review and signing of an inventory.

Every action calls the service the JSON API calls (`netzero.*`), as the signed-in party; a refusal
is the service's own sentence, shown next to the field it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from api.deps import DB, AppSettings, Blobs
from netzero import certificates, claims, facilities, inventories, queries
from netzero.models import Boundary, Certificate, CertificateStatus, Inventory, InventoryStatus
from netzero.schemas import InventoryApproval, InventoryNote
from registry import errors
from registry.credits import OldestFirstSelection
from registry.errors import InvalidRequest, RegistryError
from registry.models import AccountKind, Party, Role
from registry.queries import page
from web import charts, i18n
from web.i18n import N_
from web.pages import (
    PageRoute,
    Viewer,
    check_csrf_header,
    checked_form,
    error_status,
    redirect,
    render,
    require,
    translate,
)
from web.reports_view import chosen_file, entered_values, field_text, refuse_oversized, store_upload, upload_name
from web.routes.signing import json_answer
from web.routes.workspace import day_field, holding_accounts, region_options, tonnes_field

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]
LIST_PAGE = 25
SCOPE_LABELS = [("scope1", N_("Scope 1: direct")), ("scope2_location", N_("Scope 2, location-based")),
                ("scope2_market", N_("Scope 2, market-based")), ("scope3", N_("Scope 3: value chain"))]


def _emission_bars(request: Request, emissions_kg: Mapping[str, int]) -> list[charts.Bar]:
    return charts.bars([(translate(request, label), emissions_kg[name]) for name, label in SCOPE_LABELS])


# --- public certificates ------------------------------------------------------------------------------


@router.get("/certificates", response_class=HTMLResponse)
def certificate_list(request: Request, db: DB, party: Viewer, region: Text = None, year: Text = None,
                     status: Text = None, cursor: Text = None) -> HTMLResponse:
    chosen_status = CertificateStatus(status) if status and status in CertificateStatus.__members__.values() else None
    if status and chosen_status is None:
        raise InvalidRequest(f"unknown certificate status {status!r}")
    chosen_year = int(year) if year and year.isdigit() and 2000 <= int(year) <= 2100 else None
    if year and chosen_year is None:
        raise InvalidRequest("the year is a calendar year like 2025")
    filters = {"region": region or None, "year": year or None, "status": status or None}
    query = certificates.certificates_query(certificates.CertificateFilter(
        region=region or None, year=chosen_year, status=chosen_status))
    with db.read() as session:
        rows, next_cursor = page(session, query, col(Certificate.id), cursor or None, LIST_PAGE)
        items = [queries.certificate_row_out(row) for row in rows]
    kept = {name: value for name, value in filters.items() if value}
    language = i18n.language_of(request)
    return render(request, "netzero/certificates.html", party, translate(request, N_("Net-zero certificates")), {
        "certificates": items, "filters": filters,
        "next_url": f"/certificates?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        "csv_url": f"/api/v1/certificates?{urlencode({**kept, 'format': 'csv'})}",
        "statuses": [(s.value, i18n.status_label(s.value, language)) for s in CertificateStatus],
        "regions": region_options(language)})


def _certificate_page(request: Request, db: DB, party: Party | None, certificate_id: str,
                      errors_: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        detail = queries.certificate_detail(session, certificate_id)
    document = detail.document
    return render(request, "netzero/certificate.html", party,
                  translate(request, N_("Net-zero certificate %(number)s")) % {"number": detail.number}, {
                      "certificate": detail, "document": document,
                      "emissions": _emission_bars(request, document["emissions_kg"]),
                      "errors": errors_ or {}}, status_code)


@router.get("/certificates/{certificate_id}", response_class=HTMLResponse)
def certificate_page(request: Request, certificate_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _certificate_page(request, db, party, certificate_id)


@router.post("/certificates/{certificate_id}/revocation", response_class=HTMLResponse)
async def revoke(request: Request, certificate_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    reason = field_text(form, "reason")
    if not reason:
        return _certificate_page(request, db, me, certificate_id,
                                 {"reason": translate(request, N_("Say why: the reason is published."))}, 422)

    def run() -> None:
        with db.write() as session:
            certificates.revoke_certificate(session, me, certificates.get_certificate(session, certificate_id),
                                            reason)

    try:
        await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _certificate_page(request, db, me, certificate_id, {"reason": exc.message}, error_status(exc))
    return redirect(f"/certificates/{certificate_id}")


# --- the factory's workspace ------------------------------------------------------------------------


def _workspace(request: Request, db: DB, me: Party, errors_: dict[str, str] | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        mine = [queries.facility_out(session, f) for f in facilities.list_facilities(session, me)
                if f.party_id == me.id]
        claimed = [queries.claim_out(session, c) for c in claims.list_claims(session, me) if c.party_id == me.id]
        filed = queries.list_inventories(session, inventories.readable_inventories(me).where(
            col(Inventory.status) != InventoryStatus.SUPERSEDED.value), None, 100).items
    return render(request, "netzero/workspace.html", me, translate(request, N_("Net zero")), {
        "facilities": mine, "claims": claimed, "inventories": [i for i in filed if i.facility in
                                                               {f.id for f in mine}],
        "regions": region_options(i18n.language_of(request)),
        "boundaries": [(Boundary.TYPE_I.value, translate(request, N_("Type I: scope 1 and 2"))),
                       (Boundary.TYPE_II.value, translate(request, N_("Type II: scope 1, 2 and 3")))],
        "errors": errors_ or {}, "values": values or {"boundary": "I"}}, status_code)


@router.get("/workspace/net-zero", response_class=HTMLResponse)
def workspace(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _workspace(request, db, require(party, request, Role.BUYER))


FACILITY_FIELDS = ("name", "region", "address", "industry")


@router.post("/workspace/net-zero/facilities", response_class=HTMLResponse)
async def register_facility(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BUYER)
    form = await checked_form(request)
    values = entered_values(form)
    found = {name: translate(request, N_("This is required.")) for name in FACILITY_FIELDS
             if not field_text(form, name)}
    if found:
        return _workspace(request, db, me, found, values, 422)

    def run() -> str:
        with db.write() as session:
            return facilities.register_facility(
                session, me, field_text(form, "name"), field_text(form, "region"), field_text(form, "address"),
                field_text(form, "industry"), field_text(form, "boundary")).public_id

    try:
        facility = await run_in_threadpool(run)
    except RegistryError as exc:
        where = "region" if "region" in exc.message or "3166" in exc.message else (
            "boundary" if "boundary" in exc.message else "_")
        return _workspace(request, db, me, {where: exc.message}, values, error_status(exc))
    return redirect(f"/workspace/net-zero/facilities/{facility}")


def _facility_page(request: Request, db: DB, me: Party, facility_id: str, errors_: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        facility = queries.facility_out(session, facilities.get_own_facility(session, me, facility_id))
        filed = queries.list_inventories(session, inventories.readable_inventories(me, facility_id), None, 100).items
        claimed = {c.period_start: c for c in (queries.claim_out(session, c) for c in claims.list_claims(session, me))
                   if c.facility == facility_id}
    last_year = date.today().year - 1
    return render(request, "netzero/facility.html", me, facility.name, {
        "facility": facility, "inventories": filed, "claims": claimed,
        "verified_periods": sorted({i.period_start for i in filed if i.status == InventoryStatus.VERIFIED.value}),
        "errors": errors_ or {},
        "values": values or {"period_start": f"{last_year}-01-01", "period_end": f"{last_year}-12-31"}}, status_code)


@router.get("/workspace/net-zero/facilities/{facility_id}", response_class=HTMLResponse)
def facility_page(request: Request, facility_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _facility_page(request, db, require(party, request, Role.BUYER), facility_id)


@router.post("/workspace/net-zero/facilities/{facility_id}/inventories", response_class=HTMLResponse)
async def file_inventory(request: Request, facility_id: str, db: DB, party: Viewer, blobs: Blobs,
                         settings: AppSettings) -> Response:
    me = require(party, request, Role.BUYER)
    refuse_oversized(request, settings)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    start = day_field(request, field_text(form, "period_start"), found, "period_start")
    end = day_field(request, field_text(form, "period_end"), found, "period_end")
    upload = chosen_file(form, "data_file")
    if upload is None:
        found["data_file"] = translate(request, N_("Choose the activity data file (CSV or XLSX)."))
    elif not upload_name(upload).lower().endswith((".csv", ".xlsx")):
        found["data_file"] = translate(request, N_("The activity data is a .csv or .xlsx file."))
    if found or upload is None or start is None or end is None:
        return _facility_page(request, db, me, facility_id, found, values, 422)
    sha256, _ = await store_upload(upload, blobs, settings)
    content = blobs.path(sha256).read_bytes()

    def run() -> str:
        with db.write() as session:
            return inventories.file_inventory(session, me, facility_id, start, end, content, sha256,
                                              upload_name(upload)).public_id

    try:
        inventory = await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        where = "period_start" if "period" in exc.message else "data_file"
        return _facility_page(request, db, me, facility_id, {where: exc.message}, values, error_status(exc))
    return redirect(f"/workspace/net-zero/inventories/{inventory}")


def _inventory_context(request: Request, session: Session, me: Party, inventory_id: str) -> dict[str, Any]:
    inventory = queries.inventory_out(session, inventories.get_readable_inventory(session, me, inventory_id))
    return {"inventory": inventory, "emissions": _emission_bars(request, inventory.emissions_kg.model_dump()),
            "lines": inventory.calculation.get("lines", []), "grid_factor": inventory.calculation.get("grid_factor")}


@router.get("/workspace/net-zero/inventories/{inventory_id}", response_class=HTMLResponse)
def inventory_page(request: Request, inventory_id: str, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.BUYER)
    with db.read() as session:
        context = _inventory_context(request, session, me, inventory_id)
    inventory = context["inventory"]
    return render(request, "netzero/inventory.html", me, translate(request, N_("Inventory %(id)s")) % {
        "id": inventory_id}, context | {"back": f"/workspace/net-zero/facilities/{inventory.facility}"})


@router.get("/workspace/net-zero/inventories/{inventory_id}/data")
def inventory_data(request: Request, inventory_id: str, db: DB, party: Viewer, blobs: Blobs) -> FileResponse:
    me = require(party, request)
    with db.read() as session:
        inventory = inventories.get_readable_inventory(session, me, inventory_id)
    return FileResponse(blobs.path(inventory.data_sha256), filename=inventory.filename)


@router.post("/workspace/net-zero/claims", response_class=HTMLResponse)
async def open_claim(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BUYER)
    form = await checked_form(request)
    facility_id = field_text(form, "facility")
    found: dict[str, str] = {}
    start = day_field(request, field_text(form, "period_start"), found, "period_start")
    if start is None:
        return _facility_page(request, db, me, facility_id, found, None, 422)

    def run() -> str:
        with db.write() as session:
            return claims.open_claim(session, me, facility_id, start).public_id

    try:
        claim = await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _facility_page(request, db, me, facility_id, {"claim": exc.message}, None, error_status(exc))
    return redirect(f"/workspace/net-zero/claims/{claim}")


def _claim_page(request: Request, db: DB, me: Party, claim_id: str, errors_: dict[str, str] | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        claim = queries.claim_out(session, claims.get_own_claim(session, me, claim_id))
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, me)
                    if a.kind == AccountKind.HOLDING]
    covered_share = min(100.0, 100 * claim.covered_kg / claim.residual_kg) if claim.residual_kg else 100.0
    return render(request, "netzero/claim.html", me, translate(request, N_("Net-zero claim %(id)s")) % {
        "id": claim_id}, {
        "claim": claim, "accounts": accounts, "covered_share": covered_share,
        "progress": charts.bars([(translate(request, N_("Verified residual emissions")), claim.residual_kg),
                                 (translate(request, N_("Covered by retirements")), claim.covered_kg)]),
        "errors": errors_ or {},
        "values": values or {"quantity": f"{claim.remaining_kg / 1000:.3f}" if claim.remaining_kg else ""}},
        status_code)


@router.get("/workspace/net-zero/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(request: Request, claim_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _claim_page(request, db, require(party, request, Role.BUYER), claim_id)


@router.post("/workspace/net-zero/claims/{claim_id}/retirements", response_class=HTMLResponse)
async def retire_for_claim(request: Request, claim_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BUYER)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    quantity_kg = tonnes_field(request, field_text(form, "quantity"), found)
    account = field_text(form, "account")
    if not account:
        found["account"] = translate(request, N_("Choose the account to retire from."))
    if found or quantity_kg is None:
        return _claim_page(request, db, me, claim_id, found, values, 422)

    def run() -> None:
        with db.write() as session:
            claims.retire_for_claim(session, me, claims.get_own_claim(session, me, claim_id), account, quantity_kg,
                                    OldestFirstSelection(), field_text(form, "public_note"))

    try:
        await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound) and "claim" in exc.message:
            raise
        where = "account" if "account" in exc.message and "holds" not in exc.message else "quantity"
        return _claim_page(request, db, me, claim_id, {where: exc.message}, values, error_status(exc))
    return redirect(f"/workspace/net-zero/claims/{claim_id}")


@router.post("/workspace/net-zero/claims/{claim_id}/certificate", response_class=HTMLResponse)
async def certify(request: Request, claim_id: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request, Role.BUYER)
    await checked_form(request)

    def run() -> str:
        with db.write() as session:
            return certificates.issue_certificate(session, me, claims.get_own_claim(session, me, claim_id),
                                                  settings.certificate_validity_months).public_id

    try:
        certificate = await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _claim_page(request, db, me, claim_id, {"certify": exc.message}, None, error_status(exc))
    return redirect(f"/certificates/{certificate}")


# --- the verifier's review ----------------------------------------------------------------------------


@router.get("/verifier/inventories", response_class=HTMLResponse)
def inventory_queue(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.VERIFIER)
    with db.read() as session:
        waiting = queries.list_inventories(session, inventories.readable_inventories(me, waiting=True), None,
                                           LIST_PAGE).items
        mine = queries.list_inventories(session, inventories.readable_inventories(me).where(
            col(Inventory.verifier_party_id) == me.id), None, LIST_PAGE).items
    return render(request, "netzero/verifier_queue.html", me, translate(request, N_("Emission inventories")), {
        "waiting": waiting, "mine": mine})


def _review_page(request: Request, db: DB, me: Party, inventory_id: str, errors_: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        context = _inventory_context(request, session, me, inventory_id)
    inventory = context["inventory"]
    assigned = inventory.verifier == me.public_id
    return render(request, "netzero/review.html", me, translate(request, N_("Review of %(id)s")) % {
        "id": inventory_id}, context | {
        "may_take": inventory.status == InventoryStatus.SUBMITTED.value,
        "verifying": inventory.status == InventoryStatus.UNDER_VERIFICATION.value and assigned,
        "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/verifier/inventories/{inventory_id}", response_class=HTMLResponse)
def review(request: Request, inventory_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _review_page(request, db, require(party, request, Role.VERIFIER), inventory_id)


InventoryStep = Callable[..., None]  # (session, verifier, inventory[, note])


async def _step(request: Request, db: DB, inventory_id: str, party: Party | None, step: InventoryStep,
                field: str, note_missing: str | None = None) -> Response:
    me = require(party, request, Role.VERIFIER)
    form = await checked_form(request)
    values = entered_values(form)
    note = ""
    if note_missing is not None:
        try:
            note = InventoryNote(note=field_text(form, field)).note
        except ValidationError:
            return _review_page(request, db, me, inventory_id, {field: translate(request, note_missing)}, values, 422)

    def run() -> None:
        with db.write() as session:
            step(session, me, inventories.get_readable_inventory(session, me, inventory_id), *([note] if note else []))

    try:
        await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _review_page(request, db, me, inventory_id, {field: exc.message}, values, error_status(exc))
    return redirect(f"/verifier/inventories/{inventory_id}")


@router.post("/verifier/inventories/{inventory_id}/take", response_class=HTMLResponse)
async def take(request: Request, inventory_id: str, db: DB, party: Viewer) -> Response:
    return await _step(request, db, inventory_id, party, inventories.start_verification, "_")


@router.post("/verifier/inventories/{inventory_id}/changes", response_class=HTMLResponse)
async def ask_for_changes(request: Request, inventory_id: str, db: DB, party: Viewer) -> Response:
    return await _step(request, db, inventory_id, party, inventories.request_changes, "changes_note",
                       N_("Write what the factory must change: the note is required (at most 4,000 characters)."))


@router.post("/verifier/inventories/{inventory_id}/rejection", response_class=HTMLResponse)
async def reject(request: Request, inventory_id: str, db: DB, party: Viewer) -> Response:
    return await _step(request, db, inventory_id, party, inventories.reject_inventory, "reject_note",
                       N_("Write why the inventory is rejected: the note is required (at most 4,000 characters)."))


@router.get("/verifier/inventories/{inventory_id}/sign", response_class=HTMLResponse)
def sign_page(request: Request, inventory_id: str, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.VERIFIER)
    with db.read() as session:
        inventory = queries.inventory_out(session, inventories.get_readable_inventory(session, me, inventory_id))
    return render(request, "netzero/sign.html", me, translate(request, N_("Sign and approve %(id)s")) % {
        "id": inventory_id}, {
        "inventory": inventory,
        "signable": (inventory.status == InventoryStatus.UNDER_VERIFICATION.value
                     and inventory.verifier == me.public_id)})


@router.get("/verifier/inventories/{inventory_id}/statement-template")
def statement_template(request: Request, inventory_id: str, db: DB, party: Viewer) -> JSONResponse:
    """What `GET /api/v1/inventories/{id}/statement-template` answers, for the signed-in verifier."""

    def template(me: Party) -> dict[str, Any]:
        with db.read() as session:
            return inventories.statement_template(session, me, inventories.get_readable_inventory(
                session, me, inventory_id))

    return json_answer(request, party, template)


@router.post("/verifier/inventories/{inventory_id}/approval")
async def approve(request: Request, inventory_id: str, db: DB, party: Viewer) -> JSONResponse:
    """What `POST /api/v1/inventories/{id}/approval` does, for the signed-in verifier (CSRF in the header)."""
    body = await request.body()

    def approval(me: Party) -> dict[str, Any]:
        check_csrf_header(request)
        try:
            signed = InventoryApproval.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidRequest(translate(request, N_("Send the statement and its signature as JSON."))) from exc
        with db.write() as session:
            inventory = inventories.get_readable_inventory(session, me, inventory_id)
            inventories.approve_inventory(session, me, inventory, signed.statement, signed.signature)
            return queries.inventory_out(session, inventory).model_dump(mode="json")

    return await run_in_threadpool(json_answer, request, party, approval, 201)

