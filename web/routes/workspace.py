"""The signed-in party's workspace: its credits (accounts, holdings, history; retire and transfer),
and for project owners their projects (register one, file documents, submit) and monitoring
reports (upload data with the methodology's parameters, see the quantification, submit).

Every action calls the service the JSON API calls, as the signed-in party; a refusal is the
service's own sentence, shown next to the field it is about.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import PurePath
from typing import Annotated, Any

import pycountry
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.deps import DB, AppSettings, Blobs
from methodologies.loading import SUPPORTED_SUFFIXES
from methodologies.plugin import AssetKind, Methodology
from methodologies.registry import list_methodologies
from registry import credits, errors, queries
from registry.accounts import get_readable_account, open_account
from registry.credits import BENEFICIARY_TYPES
from registry.errors import RegistryError
from registry.models import Account, AccountKind, BlockStatus, CreditBlock, Party, Project, Retirement, Role, pk
from registry.projects import ProjectDetails, allowed_transitions, get_project
from registry.regions import check_region
from registry.schemas import AccountCreate, RetirementCreate, TransferCreate
from registry.settings import Settings
from verification import queries as verification_queries
from verification.assets import AssetSpec, ExternalSpec, add_assets
from verification.blobs import BlobStore
from verification.errors import (
    AssetAlreadyRegistered,
    CreditedElsewhere,
    CreditingPeriodInvalid,
    ExternalRegistrationTaken,
    MonitoringDataInvalid,
    OverlappingMonitoringPeriod,
    UnknownReport,
)
from verification.models import DocumentKind, MonitoringReport, ReportStatus
from verification.projects import (
    DocumentSpec,
    file_document,
    get_methodology_or_invalid,
    register_project,
)
from verification.queries import ReportFilters
from verification.reports import (
    comment,
    create_report,
    get_readable_report,
    project_of,
    replace_report_data,
    submit_report,
)
from verification.schemas import AssetIn, Note, ProjectRegistration
from web import i18n, reports_view
from web.i18n import N_
from web.pages import PageRoute, Viewer, checked_form, error_status, redirect, render, require, translate
from web.project_moves import move_project_from_form
from web.reports_view import (
    chosen_file,
    entered_values,
    field_text,
    refuse_oversized,
    store_upload,
    upload_name,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]
HISTORY_PAGE = 50
# The report form names a project's assets in its hint, up to this many.
ASSETS_NAMED = 20


def day_field(request: Request, text: str, errors_: dict[str, str], name: str) -> date | None:
    if not text:
        errors_[name] = translate(request, N_("Enter a date, like 2026-03-31."))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors_[name] = translate(request, N_("Enter a real date, like 2026-03-31."))
        return None


def tonnes_field(request: Request, text: str, errors_: dict[str, str]) -> int | None:
    """A quantity typed in tonnes (up to 3 decimals: 1 kg) as exact integer kg."""
    try:
        kg = Decimal(text.replace(",", "").replace(" ", "")) * 1000
        valid = kg.is_finite() and kg > 0 and kg == kg.to_integral_value()
    except ArithmeticError:  # not a number, or beyond what a Decimal holds
        valid = False
    if not valid:
        errors_["quantity"] = translate(request, N_("Enter a quantity in tonnes above zero, with at most 3 decimals, "
                                                    "like 1.5"))
        return None
    return int(kg)


def _validation_messages(exc: ValidationError, fields: Callable[[tuple[Any, ...]], str]) -> dict[str, str]:
    """The API's own request checks (lengths, ranges), by the form field they concern."""
    messages: dict[str, str] = {}
    for error in exc.errors():
        messages.setdefault(fields(tuple(error["loc"])), error["msg"])
    return messages


def field_of(message: str, by_word: list[tuple[str, str]], default: str) -> str:
    """The field a service's refusal is about, by a word its message uses."""
    return next((name for word, name in by_word if word in message), default)


def region_options(language: str) -> list[tuple[str, str]]:
    subdivisions = pycountry.subdivisions.get(country_code="CN") or []
    return sorted(((s.code, f"{i18n.region_name(s.code, language)} ({s.code})") for s in subdivisions),
                  key=lambda option: option[0])


# --- my credits -----------------------------------------------------------------------------------


@dataclass
class Holding:
    project: str
    project_name: str
    vintage: int
    active_kg: int = 0
    frozen_kg: int = 0


@dataclass
class AccountHoldings:
    id: str
    name: str
    active_kg: int
    frozen_kg: int
    retired_kg: int
    holdings: list[Holding] = field(default_factory=list)


def holding_accounts(session: Session, party: Party) -> list[Account]:
    return list(session.execute(select(Account).where(
        col(Account.party_id) == party.id, col(Account.kind) == AccountKind.HOLDING.value)
        .order_by(col(Account.id))).scalars())


def _holdings(session: Session, accounts: list[Account]) -> list[AccountHoldings]:
    """Each account's totals (as the API's balances) and its credits by project and vintage."""
    # Retired units leave for the registry's retirement account: what an account retired is its retirements.
    retired = dict(session.execute(
        select(col(Retirement.account_id), func.sum(col(Retirement.quantity_kg)))
        .where(col(Retirement.account_id).in_([a.id for a in accounts])).group_by(col(Retirement.account_id))).all())
    by_account = {}
    for account in accounts:
        totals = credits.account_balances(session, pk(account))
        total = totals[0] if totals else {"active_kg": 0, "frozen_kg": 0}
        by_account[account.id] = AccountHoldings(account.public_id, account.name, total["active_kg"],
                                                 total["frozen_kg"], int(retired.get(account.id, 0)))
    rows = session.execute(
        select(col(CreditBlock.account_id), col(Project.public_id), col(Project.name), col(CreditBlock.vintage),
               col(CreditBlock.status), func.sum(col(CreditBlock.quantity_kg)))
        .join(Project, col(Project.id) == col(CreditBlock.project_id))
        .where(col(CreditBlock.account_id).in_([a.id for a in accounts]),
               col(CreditBlock.status).in_([BlockStatus.ACTIVE.value, BlockStatus.FROZEN.value]))
        .group_by(col(CreditBlock.account_id), col(Project.public_id), col(Project.name), col(CreditBlock.vintage),
                  col(CreditBlock.status))
        .order_by(col(CreditBlock.account_id), col(Project.public_id), col(CreditBlock.vintage))).all()
    for account_id, project, name, vintage, status, quantity in rows:
        holdings = by_account[account_id].holdings
        if not holdings or (holdings[-1].project, holdings[-1].vintage) != (project, vintage):
            holdings.append(Holding(project, name, vintage))
        setattr(holdings[-1], f"{status}_kg", int(quantity))
    return list(by_account.values())


def _credits_page(request: Request, db: DB, party: Party, errors_: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        accounts = _holdings(session, holding_accounts(session, party))
    return render(request, "workspace/credits.html", party, translate(request, N_("My credits")), {
        "accounts": accounts, "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/workspace", response_class=HTMLResponse)
def my_credits(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _credits_page(request, db, require(party, request))


@router.post("/workspace/accounts", response_class=HTMLResponse)
async def open_an_account(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    try:
        name = AccountCreate(name=field_text(form, "account_name")).name
    except ValidationError:
        return _credits_page(request, db, me, {"account_name": translate(request, N_(
            "Give the account a name of at most 200 characters, like Trading."))}, values, 422)

    def open_it() -> str:
        with db.write() as session:
            return open_account(session, me, name).public_id

    try:
        account = await run_in_threadpool(open_it)
    except RegistryError as exc:
        return _credits_page(request, db, me, {"account_name": exc.message}, values, error_status(exc))
    return redirect(f"/workspace/accounts/{account}")


@router.get("/workspace/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str, db: DB, party: Viewer, cursor: Text = None,
                 moved: Text = None, batch: Annotated[int | None, Query(ge=1)] = None,
                 retired: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    me = require(party, request)
    with db.read() as session:
        account = get_readable_account(session, me, account_id)
        summary = _holdings(session, [account])[0]
        history = queries.account_history(session, account, cursor or None, HISTORY_PAGE)
    next_url = f"/workspace/accounts/{account_id}?cursor={history.next_cursor}" if history.next_cursor else None
    return render(request, "workspace/account.html", party, summary.name, {
        "account": summary, "history": history.items, "next_url": next_url, "moved": moved, "batch": batch,
        "retired": retired})


def _credit_form(request: Request, db: DB, party: Party, template: str, title: str, values: dict[str, str],
                 errors_: dict[str, str], status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        accounts = _holdings(session, holding_accounts(session, party))
    options = [(a.id, translate(request, N_("%(name)s (%(id)s): %(t)s t available")) % {
        "name": a.name, "id": a.id, "t": f"{a.active_kg / 1000:,.3f}"}) for a in accounts]
    language = i18n.language_of(request)
    return render(request, template, party, title, {
        "accounts": options, "values": values, "errors": errors_,
        "beneficiary_types": [(t, i18n.status_label(t, language)) for t in BENEFICIARY_TYPES]}, status_code)


@router.get("/workspace/retire", response_class=HTMLResponse)
def retire_form(request: Request, db: DB, party: Viewer, account: Text = None) -> HTMLResponse:
    me = require(party, request)
    return _credit_form(request, db, me, "workspace/retire.html", translate(request, N_("Retire credits")),
                        {"account": account or "", "beneficiary_type": "organisation"}, {})


RETIRE_FIELDS = {"from_account": "account", "quantity_kg": "quantity", "beneficiary_name": "beneficiary_name",
                 "beneficiary_type": "beneficiary_type", "purpose": "purpose",
                 "claim_period_start": "claim_period_start", "claim_period_end": "claim_period_end",
                 "public_note": "public_note"}


@router.post("/workspace/retire", response_class=HTMLResponse)
async def retire(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    title = translate(request, N_("Retire credits"))
    found: dict[str, str] = {}
    quantity_kg = tonnes_field(request, field_text(form, "quantity"), found)
    start = day_field(request, field_text(form, "claim_period_start"), found, "claim_period_start")
    end = day_field(request, field_text(form, "claim_period_end"), found, "claim_period_end")
    for name, message in (("account", N_("Choose the account to retire from.")),
                          ("beneficiary_name", N_("Name who the retirement is for.")),
                          ("purpose", N_("Say what the credits are retired for."))):
        if not field_text(form, name):
            found.setdefault(name, translate(request, message))
    if found:
        return _credit_form(request, db, me, "workspace/retire.html", title, values, found, 422)
    try:
        body = RetirementCreate(
            from_account=field_text(form, "account"), quantity_kg=quantity_kg,
            beneficiary_name=field_text(form, "beneficiary_name"),
            beneficiary_type=field_text(form, "beneficiary_type"), purpose=field_text(form, "purpose"),
            claim_period_start=start, claim_period_end=end,
            public_note=field_text(form, "public_note"))
    except ValidationError as exc:
        return _credit_form(request, db, me, "workspace/retire.html", title, values, _validation_messages(
            exc, lambda loc: RETIRE_FIELDS.get(str(loc[0]) if loc else "", "_")), 422)

    def retire_them() -> str:
        with db.write() as session:
            retirement, _ = credits.retire_credits(session, me, body.from_account, body.quantity_kg,
                                                   body.to_selection(), body.to_details())
            return retirement.public_id

    try:
        retirement = await run_in_threadpool(retire_them)
    except RegistryError as exc:
        where = field_of(exc.message, [("vintage", "claim_period_end"), ("claim period", "claim_period_end"),
                                        ("holds", "quantity"), ("quantity", "quantity"),
                                        ("beneficiary_type", "beneficiary_type"), ("beneficiary", "beneficiary_name"),
                                        ("account", "account")], "_")
        return _credit_form(request, db, me, "workspace/retire.html", title, values, {where: exc.message},
                            error_status(exc))
    return redirect(f"/retirements/{retirement}")


@router.get("/workspace/transfer", response_class=HTMLResponse)
def transfer_form(request: Request, db: DB, party: Viewer, account: Text = None) -> HTMLResponse:
    me = require(party, request)
    return _credit_form(request, db, me, "workspace/transfer.html", translate(request, N_("Transfer credits")),
                        {"account": account or ""}, {})


@router.post("/workspace/transfer", response_class=HTMLResponse)
async def transfer(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    title = translate(request, N_("Transfer credits"))
    found: dict[str, str] = {}
    quantity_kg = tonnes_field(request, field_text(form, "quantity"), found)
    if not field_text(form, "to_account"):
        found["to_account"] = translate(request, N_("Enter the id of the account that receives the credits, "
                                                    "like acct_…"))
    if not field_text(form, "account"):
        found["account"] = translate(request, N_("Choose the account to transfer from."))
    if found:
        return _credit_form(request, db, me, "workspace/transfer.html", title, values, found, 422)
    try:
        body = TransferCreate(from_account=field_text(form, "account"), to_account=field_text(form, "to_account"),
                              quantity_kg=quantity_kg)
    except ValidationError as exc:
        return _credit_form(request, db, me, "workspace/transfer.html", title, values, _validation_messages(
            exc, lambda loc: {"from_account": "account", "to_account": "to_account"}.get(
                str(loc[0]) if loc else "", "quantity")), 422)

    def move_them() -> str:
        with db.write() as session:
            return credits.transfer_credits(session, me, body.from_account, body.to_account, body.quantity_kg,
                                            body.to_selection()).public_id

    try:
        movement = await run_in_threadpool(move_them)
    except RegistryError as exc:
        where = field_of(exc.message, [(body.to_account, "to_account"), ("destination", "to_account"),
                                        ("holds", "quantity"), ("quantity", "quantity"),
                                        ("retire or cancel", "to_account"), (body.from_account, "account")], "_")
        return _credit_form(request, db, me, "workspace/transfer.html", title, values, {where: exc.message},
                            error_status(exc))
    return redirect(f"/workspace/accounts/{body.from_account}?moved={movement}")


BATCH_FILE_LIMIT = 4 * 1024 * 1024  # 10,000 lines of a retirement batch take about 1 MB


@dataclass(frozen=True)
class _BatchKind:
    """What differs between the batch pages: a batch of transfers and a batch of retirements."""

    kind: str
    title: str
    single_title: str
    lead: str
    button: str
    columns: tuple[str, ...]
    example: tuple[str, ...]


TRANSFER_BATCH = _BatchKind(
    "transfer", N_("Transfer a batch"), N_("Transfer credits"),
    N_("Distribute credits to many accounts at once, such as your households' accounts: up to %(limit)s transfers "
       "in one file, done all or none. Each takes the oldest units of its source account and is recorded in the "
       "signed log on its own."),
    N_("Transfer the batch"), credits.BATCH_COLUMNS,
    ("acct_your_account,acct_household_1,1250", "acct_your_account,acct_household_2,980"))
RETIREMENT_BATCH = _BatchKind(
    "retire", N_("Retire a batch"), N_("Retire credits"),
    N_("Retire for many beneficiaries at once, such as each of your app's users or each of your products: up to "
       "%(limit)s retirements in one file, done all or none, by the rules of a single retirement. Each takes the "
       "oldest units of its account and gets its own public record and proof."),
    N_("Retire the batch"), credits.RETIREMENT_BATCH_COLUMNS,
    ("acct_your_account,1200,Li Wei,individual,Green commute 2025,2025-01-01,2025-12-31,",
     "acct_your_account,850,Model X2 charger,product,Lifetime emissions of one unit,2025-01-01,2025-12-31,batch 7"))


def _batch_form(request: Request, party: Party, batch: _BatchKind, errors_: dict[str, str],
                values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    limit = f"{credits.MAX_BATCH:,}"
    return render(request, "workspace/batch.html", party, translate(request, batch.title), {
        "errors": errors_, "values": values or {}, "kind": batch.kind, "columns": batch.columns,
        "example": batch.example, "action": f"/workspace/{batch.kind}/batch", "single_href": f"/workspace/{batch.kind}",
        "single_title": translate(request, batch.single_title), "button": translate(request, batch.button),
        "lead": translate(request, batch.lead) % {"limit": limit}}, status_code)


@router.get("/workspace/transfer/batch", response_class=HTMLResponse)
def transfer_batch_form(request: Request, party: Viewer) -> HTMLResponse:
    return _batch_form(request, require(party, request), TRANSFER_BATCH, {})


@router.get("/workspace/retire/batch", response_class=HTMLResponse)
def retire_batch_form(request: Request, party: Viewer) -> HTMLResponse:
    return _batch_form(request, require(party, request), RETIREMENT_BATCH, {})


async def _batch_text(request: Request, form: FormData) -> str:
    """The uploaded batch file's text; a refusal if there is none, it is too large or not UTF-8."""
    upload = chosen_file(form, "batch")
    if upload is None:
        raise errors.InvalidRequest(translate(request, N_("Choose the batch file: CSV with the columns named below.")))
    content = await upload.read(BATCH_FILE_LIMIT + 1)
    if len(content) > BATCH_FILE_LIMIT:
        raise errors.InvalidRequest(translate(request, N_("The file is larger than 4 MB: split the batch.")))
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidRequest(translate(request, N_("The file is not UTF-8 text: save it as CSV UTF-8."))
                                    ) from None


@router.post("/workspace/transfer/batch", response_class=HTMLResponse)
async def transfer_batch(request: Request, db: DB, party: Viewer) -> Response:
    """An aggregator's CSV of transfers, done all or none; then the (first) source account's history."""
    me = require(party, request)
    form = await checked_form(request)
    issuance = field_text(form, "issuance") or None
    try:
        batch = credits.batch_from_csv(await _batch_text(request, form))

        def move_them() -> list[credits.Movement]:
            with db.write() as session:
                return credits.transfer_batch(session, me, batch, credits.OldestFirstSelection(
                    issuance_public_id=issuance))

        done = await run_in_threadpool(move_them)
    except RegistryError as exc:
        where = "issuance" if isinstance(exc, errors.UnknownIssuance) else "batch"
        return _batch_form(request, me, TRANSFER_BATCH, {where: exc.message}, entered_values(form),
                           error_status(exc))
    return redirect(f"/workspace/accounts/{done[0].from_account}?batch={len(done)}")


@router.post("/workspace/retire/batch", response_class=HTMLResponse)
async def retire_batch(request: Request, db: DB, party: Viewer) -> Response:
    """A CSV of retirements, done all or none; then the (first) account's history, where each is listed."""
    me = require(party, request)
    form = await checked_form(request)
    try:
        batch = credits.retirement_batch_from_csv(await _batch_text(request, form))

        def retire_them() -> list[credits.Movement]:
            with db.write() as session:
                return credits.retire_batch(session, me, batch)

        done = await run_in_threadpool(retire_them)
    except RegistryError as exc:
        return _batch_form(request, me, RETIREMENT_BATCH, {"batch": exc.message}, {}, error_status(exc))
    return redirect(f"/workspace/accounts/{done[0].from_account}?retired={len(done)}")


# --- my projects ----------------------------------------------------------------------------------


def _own_project(session: Session, party: Party, project_id: str) -> Project:
    """The party's own project; another's is not its to manage, and is not found here."""
    project = get_project(session, project_id)
    if project.owner_party_id != party.id:
        raise errors.UnknownProject(f"no project {project_id} of yours")
    return project


def _own_report(session: Session, party: Party, report_id: str) -> MonitoringReport:
    report = get_readable_report(session, party, report_id)
    if project_of(session, report).owner_party_id != party.id:
        raise UnknownReport(f"no monitoring report {report_id} of yours")
    return report


def _methodology_title(request: Request, methodology_id: str) -> str:
    return next((translate(request, m.title) for m in list_methodologies() if m.id == methodology_id),
                methodology_id)


@router.get("/workspace/projects", response_class=HTMLResponse)
def my_projects(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.PROJECT_OWNER)
    with db.read() as session:
        rows = session.execute(queries.projects_query(queries.ProjectFilters(owner=me.public_id))
                               .order_by(col(Project.id).desc())).all()
        projects = [queries.project_row_out(row) for row in rows]
        reports = session.execute(
            select(col(Project.public_id).label("project"), col(MonitoringReport.public_id),
                   col(MonitoringReport.period_start), col(MonitoringReport.period_end), col(MonitoringReport.status))
            .join(Project, col(Project.id) == col(MonitoringReport.project_id))
            .where(col(Project.owner_party_id) == me.id).order_by(col(MonitoringReport.id))).all()
        latest = {report.project: report for report in reports}  # the newest of each project wins
    return render(request, "workspace/projects.html", party, translate(request, N_("My projects")), {
        "projects": projects, "latest": latest,
        "titles": {p.methodology_id: _methodology_title(request, p.methodology_id) for p in projects}})


@router.get("/workspace/projects/new", response_class=HTMLResponse)
def choose_methodology(request: Request, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.PROJECT_OWNER)
    return render(request, "workspace/choose_methodology.html", me,
                  translate(request, N_("Which methodology does the project follow?")),
                  {"methodologies": [(m, translate(request, m.title), translate(request, m.applicability))
                                     for m in list_methodologies()]})


ASSET_LABELS = {AssetKind.METER: N_("Meters"), AssetKind.CHARGER: N_("Chargers"), AssetKind.PARCEL: N_("Parcels")}
ASSET_HINTS = {
    AssetKind.METER: N_("One meter id per line, as on the meter or the grid company's contract, e.g. SIP-HH-01."),
    AssetKind.CHARGER: N_("One charger (connector) id per line, as in the charging platform, e.g. SIP-EV-01."),
    AssetKind.PARCEL: N_("One parcel per line: its id, its area in m² and its boundary as longitude,latitude "
                         "points, separated by semicolons, e.g. TZB-S1; 250000; 121.50,28.60 121.52,28.60 "
                         "121.52,28.61 121.50,28.61"),
}
EXTERNAL_HINT = N_("Registrations the project already has in other programmes, one per line: the scheme, a colon "
                   "and the id, e.g. GEC: GEC-2025-000123. Green electricity certificates are deducted; any "
                   "other programme crediting the same assets is refused. Leave empty if none.")


def _registration_page(request: Request, me: Party, methodology: Methodology[Any], values: dict[str, str],
                       errors_: dict[str, str], status_code: int = 200) -> HTMLResponse:
    language = i18n.language_of(request)
    return render(request, "workspace/register.html", me, translate(request, N_("Register a project")), {
        "methodology": methodology, "methodology_title": translate(request, methodology.title),
        "capacity": reports_view.capacity_field(methodology), "regions": region_options(language),
        "asset_label": translate(request, ASSET_LABELS[methodology.asset_kind]),
        "asset_hint": translate(request, ASSET_HINTS[methodology.asset_kind]),
        "external_hint": translate(request, EXTERNAL_HINT), "values": values, "errors": errors_}, status_code)


@router.get("/workspace/projects/new/{methodology_id}/{version}", response_class=HTMLResponse)
def registration_form(request: Request, methodology_id: str, version: str, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.PROJECT_OWNER)
    methodology = get_methodology_or_invalid(methodology_id, version)
    region = me.region if me.region and me.region.startswith("CN-") else ""
    return _registration_page(request, me, methodology, {"region": region}, {})


def _assets(request: Request, kind: AssetKind, text: str, errors_: dict[str, str]) -> list[dict[str, Any]]:
    """The asset lines as the API's asset objects; a parcel's boundary becomes a GeoJSON polygon."""
    assets: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if kind != AssetKind.PARCEL:
            assets.append({"kind": kind.value, "identifier": line.strip()})
            continue
        parts = [part.strip() for part in line.split(";")]
        try:
            ring = [tuple(float(v) for v in point.split(",")) for point in parts[2].split()]
            if len(parts) != 3 or len(ring) < 3 or any(len(point) != 2 for point in ring):
                raise ValueError
            area_m2 = int(parts[1].replace(",", "").replace(" ", ""))
        except (ValueError, IndexError):
            errors_["assets"] = translate(request, N_(
                "Line %(n)s: write the parcel's id, its area in m² and at least three longitude,latitude points, "
                "separated by semicolons")) % {"n": number}
            return []
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        assets.append({"kind": kind.value, "identifier": parts[0], "area_m2": area_m2,
                       "geometry": {"type": "Polygon", "coordinates": [[list(point) for point in ring]]}})
    if not assets:
        errors_["assets"] = translate(request, N_("List the project's assets, one per line."))
    return assets


def _external(request: Request, text: str, errors_: dict[str, str]) -> list[dict[str, str]]:
    registrations = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        scheme, separator, identifier = line.partition(":")
        if not separator or not scheme.strip() or not identifier.strip():
            errors_["external"] = translate(request, N_(
                "Line %(n)s: write the scheme, a colon and the id, like GEC: GEC-2025-000123")) % {"n": number}
            return []
        registrations.append({"scheme": scheme.strip(), "identifier": identifier.strip()})
    return registrations


# The API's field names that are not the form's.
REGISTRATION_FIELDS = {"external_registrations": "external", "methodology_id": "_", "methodology_version": "_",
                       "capacity_unit": "capacity"}


def _optional_number(request: Request, form: FormData, name: str, errors_: dict[str, str]) -> float | None:
    text = field_text(form, name)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        errors_[name] = translate(request, N_("Enter a number, like 31.30"))
        return None


@router.post("/workspace/projects/new/{methodology_id}/{version}", response_class=HTMLResponse)
async def register(request: Request, methodology_id: str, version: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    form = await checked_form(request)
    methodology = get_methodology_or_invalid(methodology_id, version)
    values = entered_values(form)
    found: dict[str, str] = {}
    for name, message in (("name", N_("Give the project a name.")), ("location", N_("Say where the project is.")),
                          ("region", N_("Choose the province."))):
        if not field_text(form, name):
            found[name] = translate(request, message)
    start = day_field(request, field_text(form, "crediting_period_start"), found, "crediting_period_start")
    end = day_field(request, field_text(form, "crediting_period_end"), found, "crediting_period_end")
    numbers = {name: _optional_number(request, form, name, found) for name in ("latitude", "longitude", "capacity")}
    assets = _assets(request, methodology.asset_kind, field_text(form, "assets"), found)
    external = _external(request, field_text(form, "external"), found)
    if field_text(form, "region") and "region" not in found:
        try:
            check_region(field_text(form, "region"))
        except RegistryError as exc:
            found["region"] = exc.message
    if found:
        return _registration_page(request, me, methodology, values, found, 422)
    capacity = reports_view.capacity_field(methodology)
    try:
        body = ProjectRegistration(
            name=field_text(form, "name"), methodology_id=methodology.id, methodology_version=methodology.version,
            region=field_text(form, "region"), location=field_text(form, "location"), crediting_period_start=start,
            crediting_period_end=end, capacity_unit=capacity[1] if capacity and numbers["capacity"] else None,
            assets=assets, external_registrations=external, **numbers)
    except ValidationError as exc:
        return _registration_page(request, me, methodology, values, _validation_messages(
            exc, lambda loc: REGISTRATION_FIELDS.get(str(loc[0]), str(loc[0])) if loc else "_"), 422)

    def register_it() -> str:
        details = ProjectDetails(**body.model_dump(exclude={"owner", "assets", "external_registrations", "documents"}))
        with db.write() as session:
            return register_project(
                session, me, details, [AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in body.assets],
                None, [ExternalSpec(e.scheme, e.identifier) for e in body.external_registrations]).public_id

    try:
        project = await run_in_threadpool(register_it)
    except RegistryError as exc:
        identifiers = [(a.identifier, "assets") for a in body.assets]
        schemes = [(e.identifier, "external") for e in body.external_registrations]
        where = "crediting_period_end" if isinstance(exc, CreditingPeriodInvalid) else field_of(
            exc.message, [*identifiers, *schemes, ("parcel", "assets"), ("asset", "assets"),
                          ("identifier", "assets"), ("region", "region")],
            "assets" if isinstance(exc, AssetAlreadyRegistered | CreditedElsewhere)
            else "external" if isinstance(exc, ExternalRegistrationTaken) else "_")
        return _registration_page(request, me, methodology, values, {where: exc.message}, error_status(exc))
    return redirect(f"/workspace/projects/{project}")


OWNER_DOCUMENT_KINDS = (DocumentKind.DESIGN, DocumentKind.PERMIT, DocumentKind.OTHER)
# What the owner's buttons say for each status it may move its project to.
MOVE_LABELS = {"submitted": N_("Submit for validation"), "withdrawn": N_("Withdraw the project")}


def _project_page(request: Request, db: DB, me: Party, project_id: str, errors_: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    language = i18n.language_of(request)
    with db.read() as session:
        project = _own_project(session, me, project_id)
        detail = queries.project_out(session, project)
        moves = sorted(allowed_transitions(me, project, None))
        page = {
            "project": detail, "assets": verification_queries.project_assets(session, project),
            "documents": verification_queries.project_documents(session, project),
            "reports": verification_queries.list_reports(session, me, ReportFilters(project=project_id), None,
                                                         100).items,
            "trail": verification_queries.trail(session, verification_queries.project_trail_subjects(session, project),
                                                with_notes=True),
        }
    return render(request, "workspace/project.html", me, detail.name, {
        **page, "methodology_title": _methodology_title(request, detail.methodology_id),
        "moves": [(status, translate(request, MOVE_LABELS.get(status, status))) for status in moves],
        "may_file": detail.status in ("draft", "changes_requested"), "may_report": detail.status == "registered",
        **_asset_form(request, detail.methodology_id, detail.methodology_version),
        "document_kinds": [(k.value, i18n.status_label(k.value, language)) for k in OWNER_DOCUMENT_KINDS],
        "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/workspace/projects/{project_id}", response_class=HTMLResponse)
def my_project(request: Request, project_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _project_page(request, db, require(party, request, Role.PROJECT_OWNER), project_id)


@router.post("/workspace/projects/{project_id}/status", response_class=HTMLResponse)
async def move_project(request: Request, project_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    return await move_project_from_form(
        request, db, me, project_id, lambda session, found: _own_project(session, me, found),
        lambda problems, values, status: _project_page(request, db, me, project_id, problems, values, status),
        f"/workspace/projects/{project_id}")


def _asset_form(request: Request, methodology_id: str, version: str) -> dict[str, str]:
    methodology = get_methodology_or_invalid(methodology_id, version)
    return {"asset_label": translate(request, ASSET_LABELS[methodology.asset_kind]),
            "asset_hint": translate(request, ASSET_HINTS[methodology.asset_kind])}


@router.post("/workspace/projects/{project_id}/assets", response_class=HTMLResponse)
async def add_project_assets(request: Request, project_id: str, db: DB, party: Viewer) -> Response:
    """More meters, chargers or parcels for a project still being drafted, in the registration form's
    lines; the same checks as at registration (one active project per asset, no overlapping parcels)."""
    me = require(party, request, Role.PROJECT_OWNER)
    form = await checked_form(request)
    with db.read() as session:
        project = _own_project(session, me, project_id)
        kind = get_methodology_or_invalid(project.methodology_id, project.methodology_version).asset_kind
    found: dict[str, str] = {}
    listed = _assets(request, kind, field_text(form, "assets"), found)
    if found:
        return _project_page(request, db, me, project_id, found, entered_values(form), 422)
    try:
        specs = [AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in TypeAdapter(
            list[AssetIn]).validate_python(listed)]
    except ValidationError:
        return _project_page(request, db, me, project_id, {"assets": translate(request, N_(
            "List the project's assets, one per line."))}, entered_values(form), 422)

    def add_them() -> None:
        with db.write() as session:
            add_assets(session, me, _own_project(session, me, project_id), specs)

    try:
        await run_in_threadpool(add_them)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _project_page(request, db, me, project_id, {"assets": exc.message}, entered_values(form),
                             error_status(exc))
    return redirect(f"/workspace/projects/{project_id}#assets-heading")


@router.post("/workspace/projects/{project_id}/documents", response_class=HTMLResponse)
async def file_a_document(request: Request, project_id: str, db: DB, party: Viewer, blobs: Blobs,
                          settings: AppSettings) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    refuse_oversized(request, settings)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    upload = chosen_file(form, "document")
    if upload is None:
        found["document"] = translate(request, N_("Choose the document's file."))
    if not field_text(form, "title"):
        found["title"] = translate(request, N_("Give the document a title."))
    kinds = {k.value: k for k in OWNER_DOCUMENT_KINDS}
    if field_text(form, "kind") not in kinds:
        found["kind"] = translate(request, N_("Choose what kind of document it is."))
    if found or upload is None:
        return _project_page(request, db, me, project_id, found, values, 422)
    try:
        sha256, size = await store_upload(upload, blobs, settings)
    except RegistryError as exc:
        return _project_page(request, db, me, project_id, {"document": exc.message}, values, error_status(exc))
    document = DocumentSpec(field_text(form, "title")[:200], upload_name(upload)[:200], sha256, size,
                            kinds[field_text(form, "kind")])

    def file_it() -> None:
        with db.write() as session:
            file_document(session, me, _own_project(session, me, project_id), document)

    try:
        await run_in_threadpool(file_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _project_page(request, db, me, project_id, {"document": exc.message}, values, error_status(exc))
    return redirect(f"/workspace/projects/{project_id}#documents-heading")


# --- monitoring reports ---------------------------------------------------------------------------


@dataclass
class ReportForm:
    """The data form of a new report, or of new data for one (then `report` is set)."""

    project: Project
    methodology: Methodology[Any]
    fields: list[reports_view.ParamField]
    report: MonitoringReport | None = None
    last_report: str | None = None


def _report_form_page(request: Request, db: DB, me: Party, form: ReportForm, values: dict[str, str],
                      errors_: dict[str, str], status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, me)]
        assets = [a.identifier for a in verification_queries.project_assets(session, form.project) if a.active]
    if len(assets) > ASSETS_NAMED:
        assets = [*assets[:ASSETS_NAMED], translate(request, N_("and %(n)s more")) % {"n": len(assets) - ASSETS_NAMED}]
    required = [f for f in form.fields if f.required]
    optional = [f for f in form.fields if not f.required]
    title = translate(request, N_("New data for report %(id)s") if form.report else N_("New monitoring report")) % {
        "id": form.report.public_id if form.report else ""}
    return render(request, "workspace/report_form.html", me, title, {
        "form": form, "required_fields": required, "optional_fields": optional, "accounts": accounts,
        "assets": assets, "values": values, "errors": errors_,
        "optional_errors": any(key.startswith("param-") and key not in {f.input_id for f in required}
                               for key in errors_),
        "regions": region_options(i18n.language_of(request)),
        "columns": form.methodology.input_schema.describe(), "suffixes": ", ".join(SUPPORTED_SUFFIXES),
        "action": (f"/workspace/reports/{form.report.public_id}/data" if form.report
                   else f"/workspace/projects/{form.project.public_id}/reports/new")}, status_code)


def _new_report_form(request: Request, session: Session, me: Party, project_id: str) -> ReportForm:
    project = _own_project(session, me, project_id)
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    last = session.execute(select(col(MonitoringReport.public_id)).where(
        col(MonitoringReport.project_id) == project.id).order_by(col(MonitoringReport.id).desc())).scalar()
    return ReportForm(project, methodology, reports_view.param_fields(request, methodology), last_report=last)


@router.get("/workspace/projects/{project_id}/reports/new", response_class=HTMLResponse)
def new_report_form(request: Request, project_id: str, db: DB, party: Viewer,
                    from_report: Text = None) -> HTMLResponse:
    me = require(party, request, Role.PROJECT_OWNER)
    with db.read() as session:
        form = _new_report_form(request, session, me, project_id)
        values = reports_view.default_values(form.fields) | reports_view.project_values(
            form.fields, form.methodology, form.project)
        if from_report:
            earlier = _own_report(session, me, from_report)
            if earlier.project_id != form.project.id:
                raise UnknownReport(f"report {from_report} is not of project {project_id}")
            values |= reports_view.form_values(form.fields, json.loads(earlier.params_json))
        accounts = holding_accounts(session, me)
    if len(accounts) == 1:  # nothing to choose
        values["account"] = accounts[0].public_id
    return _report_form_page(request, db, me, form, values, {})


@dataclass
class ReportSubmission:
    """A report form as sent: what it asks for, or what is wrong with it."""

    params: dict[str, Any]
    errors: dict[str, str]
    values: dict[str, str]
    data_sha256: str = ""
    data_filename: str = ""
    data_bytes: int = 0


async def _read_report_form(request: Request, form: FormData, fields: list[reports_view.ParamField],
                            blobs: BlobStore, settings: Settings) -> ReportSubmission:
    """The parameters, and the data file: uploaded now, or kept from an earlier attempt of this form."""
    params, found = reports_view.params_from_form(request, fields, form)
    submission = ReportSubmission(params, found, entered_values(form))
    upload = chosen_file(form, "data_file")
    if upload is not None:
        filename = upload_name(upload)
        if PurePath(filename).suffix.lower() not in SUPPORTED_SUFFIXES:
            found["data_file"] = translate(request, N_(
                "%(file)s is not a file the methodology reads: upload CSV, XLSX or Parquet (%(suffixes)s).")) % {
                "file": filename, "suffixes": ", ".join(SUPPORTED_SUFFIXES)}
            return submission
        try:
            sha256, size = await store_upload(upload, blobs, settings)
        except RegistryError as exc:
            found["data_file"] = exc.message
            return submission
        submission.data_sha256, submission.data_filename, submission.data_bytes = sha256, filename, size
    elif field_text(form, "data_sha256") and field_text(form, "data_filename"):
        try:
            size = blobs.path(field_text(form, "data_sha256")).stat().st_size
        except RegistryError as exc:
            found["data_file"] = exc.message
            return submission
        submission.data_sha256 = field_text(form, "data_sha256")
        submission.data_filename, submission.data_bytes = field_text(form, "data_filename"), size
    else:
        found["data_file"] = translate(request, N_("Choose the file of monitoring data."))
    # Kept so that a refusal does not ask for the file again.
    submission.values |= {"data_sha256": submission.data_sha256, "data_filename": submission.data_filename}
    return submission


def _report_error_field(exc: RegistryError, fields: list[reports_view.ParamField]) -> str:
    """Where on the report form a service's refusal belongs."""
    if isinstance(exc, OverlappingMonitoringPeriod) or "crediting period" in exc.message:
        return "period_start"
    if "monitoring period" in exc.message:
        return "period_end"
    if "account" in exc.message:
        return "account"
    if isinstance(exc, MonitoringDataInvalid):
        return reports_view.parameter_field(fields, exc.message) or "data_file"
    return "_"


@router.post("/workspace/projects/{project_id}/reports/new", response_class=HTMLResponse)
async def new_report(request: Request, project_id: str, db: DB, party: Viewer, blobs: Blobs,
                     settings: AppSettings) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    refuse_oversized(request, settings)
    form = await checked_form(request)
    with db.read() as session:
        page = _new_report_form(request, session, me, project_id)
    sent = await _read_report_form(request, form, page.fields, blobs, settings)
    start = day_field(request, field_text(form, "period_start"), sent.errors, "period_start")
    end = day_field(request, field_text(form, "period_end"), sent.errors, "period_end")
    if not field_text(form, "account"):
        sent.errors["account"] = translate(request, N_("Choose the account that receives the credits."))
    if sent.errors or start is None or end is None:
        return _report_form_page(request, db, me, page, sent.values, sent.errors, 422)

    def create_it() -> str:
        with db.write() as session:
            project = _own_project(session, me, project_id)
            return create_report(session, me, project, start, end, blobs.path(sent.data_sha256), sent.data_sha256,
                                 sent.data_filename, sent.params, field_text(form, "account"),
                                 settings.max_upload_bytes).public_id

    try:
        report = await run_in_threadpool(create_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound) and not isinstance(exc, errors.UnknownAccount):
            raise
        return _report_form_page(request, db, me, page, sent.values,
                                 {_report_error_field(exc, page.fields): exc.message}, error_status(exc))
    return redirect(f"/workspace/reports/{report}")


def _replace_form(request: Request, session: Session, me: Party, report_id: str) -> ReportForm:
    report = _own_report(session, me, report_id)
    project = project_of(session, report)
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    return ReportForm(project, methodology, reports_view.param_fields(request, methodology), report)


@router.get("/workspace/reports/{report_id}/data", response_class=HTMLResponse)
def replace_data_form(request: Request, report_id: str, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.PROJECT_OWNER)
    with db.read() as session:
        form = _replace_form(request, session, me, report_id)
    assert form.report is not None
    values = reports_view.form_values(form.fields, json.loads(form.report.params_json))
    return _report_form_page(request, db, me, form, values, {})


@router.post("/workspace/reports/{report_id}/data", response_class=HTMLResponse)
async def replace_data(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs,
                       settings: AppSettings) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    refuse_oversized(request, settings)
    form = await checked_form(request)
    with db.read() as session:
        page = _replace_form(request, session, me, report_id)
    sent = await _read_report_form(request, form, page.fields, blobs, settings)
    if sent.errors:
        return _report_form_page(request, db, me, page, sent.values, sent.errors, 422)

    def replace_it() -> None:
        with db.write() as session:
            replace_report_data(session, me, _own_report(session, me, report_id), blobs.path(sent.data_sha256),
                                sent.data_sha256, sent.data_filename, sent.params, settings.max_upload_bytes)

    try:
        await run_in_threadpool(replace_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _report_form_page(request, db, me, page, sent.values,
                                 {_report_error_field(exc, page.fields): exc.message}, error_status(exc))
    return redirect(f"/workspace/reports/{report_id}")


def _report_page(request: Request, db: DB, blobs: BlobStore, me: Party, report_id: str,
                 errors_: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        report = _own_report(session, me, report_id)
        fields = reports_view.param_fields(request, reports_view.methodology_of_report(session, report))
        view = reports_view.report_view(request, session, report, blobs, fields)
    status = view.report.status
    return render(request, "workspace/report.html", me, translate(request, N_("Report %(id)s")) % {"id": report_id}, {
        "view": view, "may_submit": status == ReportStatus.DRAFT and not view.report.rejected_by_qa,
        "may_replace": status in (ReportStatus.DRAFT, ReportStatus.CHANGES_REQUESTED),
        "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/workspace/reports/{report_id}", response_class=HTMLResponse)
def my_report(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> HTMLResponse:
    return _report_page(request, db, blobs, require(party, request, Role.PROJECT_OWNER), report_id)


@router.get("/workspace/reports/{report_id}/data-file")
def my_report_data(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> FileResponse:
    return reports_view.data_file(db, blobs, require(party, request), report_id)


@router.post("/workspace/reports/{report_id}/submit", response_class=HTMLResponse)
async def submit(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    await checked_form(request)

    def submit_it() -> None:
        with db.write() as session:
            submit_report(session, me, _own_report(session, me, report_id))

    try:
        await run_in_threadpool(submit_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _report_page(request, db, blobs, me, report_id, {"_": exc.message}, None, error_status(exc))
    return redirect(f"/workspace/reports/{report_id}")


@router.post("/workspace/reports/{report_id}/comments", response_class=HTMLResponse)
async def comment_on_report(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    me = require(party, request, Role.PROJECT_OWNER)
    form = await checked_form(request)
    try:
        text = Note(note=field_text(form, "comment")).note
    except ValidationError:
        return _report_page(request, db, blobs, me, report_id, {"comment": translate(request, N_(
            "Write the comment, in at most 4,000 characters."))}, entered_values(form), 422)

    def comment_it() -> None:
        with db.write() as session:
            comment(session, me, _own_report(session, me, report_id), text)

    try:
        await run_in_threadpool(comment_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _report_page(request, db, blobs, me, report_id, {"comment": exc.message}, entered_values(form),
                            error_status(exc))
    return redirect(f"/workspace/reports/{report_id}#trail-heading")
