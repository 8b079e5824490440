"""The public registry, no sign-in: at a glance, projects, issuances, retirements, verifiers, parties
and the log. Each page reads through the same queries as the JSON API, and links to that API's CSV
export for the same filters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlmodel import Session, col

from api.deps import DB, Signer
from methodologies.registry import list_methodologies
from registry import errors, queries, schemas, stats
from registry.ledger import log
from registry.models import CreditBlock, Issuance, Party, Project, ProjectStatus, Retirement, get_by_public_id
from registry.projects import get_project
from registry.queries import AnySelect
from verification import flows
from verification import queries as verification_queries
from web import charts, i18n
from web.i18n import LANGUAGE_COOKIE, LANGUAGES, N_
from web.pages import PageRoute, Viewer, local_path, render, translate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 25
Text = Annotated[str | None, Query(max_length=200)]


def _blank(value: str | None) -> str | None:
    """A form sends empty fields as empty strings: those filter nothing."""
    return value.strip() or None if value is not None else None


def _int(value: str | None, name: str) -> int | None:
    value = _blank(value)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 6:
        raise errors.InvalidRequest(f"{name} must be a whole number, like 2025")
    return int(value)


def _day(value: str | None, name: str) -> date | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise errors.InvalidRequest(f"{name} must be a date like 2025-12-31") from exc


@dataclass
class Listing:
    items: list[Any]
    next_url: str | None
    csv_url: str


def _listing(request: Request, db: DB, query: AnySelect, id_column: Any, row_out: Any, api_path: str,
             filters: Any, cursor: str | None) -> Listing:
    """A page of `query`, the address of the next, and the API's CSV export of the same filters."""
    with db.read() as session:
        rows, next_cursor = queries.page(session, query, id_column, _blank(cursor), PAGE_SIZE)
        items = [row_out(row) for row in rows]
    kept = {name: value for name, value in asdict(filters).items() if value is not None}
    next_url = f"{request.url.path}?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None
    return Listing(items, next_url, f"{api_path}?{urlencode({**kept, 'format': 'csv'})}")


def _methodology_options(request: Request) -> list[tuple[str, str]]:
    return [(m.id, f"{translate(request, m.title)} ({m.id})") for m in list_methodologies()]


def _region_options(session: Session, language: str) -> list[tuple[str, str]]:
    codes = sorted(session.execute(select(col(Project.region)).distinct()).scalars())
    return [(code, f"{i18n.region_name(code, language)} ({code})") for code in codes]


# --- home ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    language = i18n.language_of(request)
    with db.read() as session:
        figures = stats.registry_stats(session)
        latest = [queries.retirement_row_out(row) for row in session.execute(
            queries.retirements_query(queries.RetirementFilters()).order_by(col(Retirement.id).desc()).limit(5))]
        projects = session.execute(queries.projects_query(queries.ProjectFilters())
                                   .order_by(col(Project.id).desc()).limit(5)).all()
    issued, retired = translate(request, N_("Issued")), translate(request, N_("Retired"))
    months = [str(row.key) for row in figures.by_month]
    month_chart = charts.column_chart(
        translate(request, N_("Issued and retired by month, tonnes")), months,
        [charts.Series(issued, [row.issued_kg for row in figures.by_month], "chart-issued"),
         charts.Series(retired, [row.retired_kg for row in figures.by_month], "chart-retired")], "t", 1000)
    return render(request, "public/home.html", party, translate(request, N_("The registry at a glance")), {
        "stats": figures, "month_chart": month_chart,
        "by_methodology": charts.bars([(translate(request, _methodology_title(str(row.key))), row.issued_kg)
                                       for row in figures.by_methodology]),
        "by_region": charts.bars([(i18n.region_name(str(row.key), language), row.issued_kg)
                                  for row in figures.by_region]),
        "latest_retirements": latest, "latest_projects": [queries.project_row_out(row) for row in projects]})


def _methodology_title(methodology_id: str) -> str:
    return next((m.title for m in list_methodologies() if m.id == methodology_id), methodology_id)


# --- language -----------------------------------------------------------------------------------


@router.get("/language/{language}")
def choose_language(language: str, next: Text = None) -> RedirectResponse:
    if language not in LANGUAGES:
        raise errors.InvalidRequest(f"the registry speaks {', '.join(LANGUAGES)}")
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


# --- projects -----------------------------------------------------------------------------------


@router.get("/projects", response_class=HTMLResponse)
def projects(request: Request, db: DB, party: Viewer, q: Text = None, methodology_id: Text = None,
             region: Text = None, status: Text = None, cursor: Text = None) -> HTMLResponse:
    status_value = _blank(status)
    if status_value is not None and status_value not in ProjectStatus.__members__.values():
        raise errors.InvalidRequest(f"unknown project status {status_value!r}")
    filters = queries.ProjectFilters(_blank(methodology_id), _blank(region), status_value, None, _blank(q))
    listing = _listing(request, db, queries.projects_query(filters), col(Project.id), queries.project_row_out,
                       "/api/v1/projects", filters, cursor)
    with db.read() as session:
        regions = _region_options(session, i18n.language_of(request))
    return render(request, "public/projects.html", party, translate(request, N_("Projects")), {
        "listing": listing, "filters": filters, "methodologies": _methodology_options(request), "regions": regions,
        "statuses": [(s.value, i18n.status_label(s.value, i18n.language_of(request))) for s in ProjectStatus]})


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project(request: Request, project_id: str, db: DB, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        found = get_project(session, project_id)
        detail = queries.project_out(session, found)
        assets = verification_queries.project_assets(session, found)
        documents = verification_queries.project_documents(session, found)
        issuances = [queries.issuance_row_out(row) for row in session.execute(
            queries.issuances_query(queries.IssuanceFilters(project=project_id)).order_by(col(Issuance.id)))]
        retirements = [queries.retirement_row_out(row) for row in session.execute(
            queries.retirements_query(queries.RetirementFilters(project=project_id))
            .order_by(col(Retirement.id).desc()).limit(50))]
        trail = verification_queries.trail(
            session, verification_queries.project_trail_subjects(session, found), with_notes=False)
    return render(request, "public/project.html", party, detail.name, {
        "project": detail, "assets": assets, "documents": documents, "issuances": issuances,
        "retirements": retirements, "trail": trail,
        "methodology_title": translate(request, _methodology_title(detail.methodology_id))})


# --- issuances ----------------------------------------------------------------------------------


@router.get("/issuances", response_class=HTMLResponse)
def issuances(request: Request, db: DB, party: Viewer, project: Text = None, vintage: Text = None,
              methodology_id: Text = None, region: Text = None, cursor: Text = None) -> HTMLResponse:
    filters = queries.IssuanceFilters(_blank(project), _int(vintage, "vintage"), _blank(methodology_id),
                                      _blank(region))
    listing = _listing(request, db, queries.issuances_query(filters), col(Issuance.id), queries.issuance_row_out,
                       "/api/v1/issuances", filters, cursor)
    with db.read() as session:
        regions = _region_options(session, i18n.language_of(request))
    return render(request, "public/issuances.html", party, translate(request, N_("Issuances")), {
        "listing": listing, "filters": filters, "methodologies": _methodology_options(request), "regions": regions})


@router.get("/issuances/{issuance_id}", response_class=HTMLResponse)
def issuance(request: Request, issuance_id: str, db: DB, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        detail = queries.issuance_out(session, issuance_id)
        blocks = [queries.public_block_row_out(row) for row in session.execute(
            queries.public_blocks_query(None, issuance_id).order_by(col(CreditBlock.first_unit)).limit(500))]
        signed = None
        verifier = None
        if detail.verification_statement_sha256 is not None:
            signed = flows.issuance_statement(session, issuance_id)
            verifier = verification_queries.accreditation_out(session, signed.accreditation)
    return render(request, "public/issuance.html", party, translate(request, N_("Issuance")) + " " + detail.id, {
        "issuance": detail, "blocks": blocks, "signed": signed, "verifier": verifier})


# --- retirements --------------------------------------------------------------------------------


@router.get("/retirements", response_class=HTMLResponse)
def retirements(request: Request, db: DB, party: Viewer, beneficiary: Text = None, project: Text = None,
                vintage: Text = None, claim_period_start: Text = None, claim_period_end: Text = None,
                cursor: Text = None) -> HTMLResponse:
    filters = queries.RetirementFilters(
        _blank(project), _int(vintage, "vintage"), _blank(beneficiary), None,
        _day(claim_period_start, "claim period start"), _day(claim_period_end, "claim period end"))
    listing = _listing(request, db, queries.retirements_query(filters), col(Retirement.id),
                       queries.retirement_row_out, "/api/v1/retirements", filters, cursor)
    return render(request, "public/retirements.html", party, translate(request, N_("Retirements")), {
        "listing": listing, "filters": filters})


@router.get("/retirements/{retirement_id}", response_class=HTMLResponse)
def retirement(request: Request, retirement_id: str, db: DB, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        detail = queries.retirement_out(session, retirement_id)
        projects = _projects_of_units(session, detail)
    return render(request, "public/retirement.html", party, translate(request, N_("Retirement")) + " " + detail.id,
                  {"retirement": detail, "projects": projects})


def _projects_of_units(session: Session, retirement: schemas.RetirementOut) -> list[schemas.IssuanceOut]:
    seen: dict[str, schemas.IssuanceOut] = {}
    for unit in retirement.units:
        if unit.issuance not in seen:
            seen[unit.issuance] = queries.issuance_out(session, unit.issuance)
    return list(seen.values())


# --- verifiers, parties, the log ----------------------------------------------------------------


@router.get("/verifiers", response_class=HTMLResponse)
def verifiers(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        accreditations = verification_queries.list_accreditations(session)
    return render(request, "public/verifiers.html", party, translate(request, N_("Accredited verifiers")),
                  {"accreditations": accreditations})


@router.get("/parties/{party_id}", response_class=HTMLResponse)
def party_profile(request: Request, party_id: str, db: DB, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        found = get_by_public_id(session, Party, party_id, lambda: errors.UnknownParty(f"no party {party_id}"))
        profile = queries.public_party_out(session, found)
    return render(request, "public/party.html", party, profile.name, {"profile": profile})


@router.get("/log", response_class=HTMLResponse)
def transparency_log(request: Request, db: DB, signer: Signer, party: Viewer) -> HTMLResponse:
    with db.read() as session:
        checkpoint = log.latest_checkpoint(session)
    return render(request, "public/log.html", party, translate(request, N_("The signed log")), {
        "checkpoint": checkpoint, "key": signer.verifier_key, "origin": signer.name})
