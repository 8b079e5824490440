"""The registrar's pages: what waits for it, the registry's statistics, parties and their keys,
verifier accreditations, projects waiting for a decision, and freezes.

Each action calls the service the JSON API calls for it, with the signed-in registrar as the actor;
a refusal comes back next to the field it concerns. Account applications are in
`web.routes.applications`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.datastructures import FormData, UploadFile

from api.deps import DB
from api.listing import Cursor
from methodologies.registry import list_methodologies
from registry import applications, credits, errors, parties, queries, schemas, stats
from registry.accounts import readable_accounts_query
from registry.models import (
    Account,
    CreditBlock,
    Issuance,
    Party,
    PartyKind,
    PartyStatus,
    Project,
    ProjectStatus,
    Role,
    get_by_public_id,
)
from registry.projects import allowed_transitions, get_project
from registry.regions import check_region
from verification import accreditation, flows, reports
from verification import queries as verification_queries
from verification.models import AccreditationStatus, DocumentKind, MonitoringReport, ReportStatus, VerifierAccreditation
from verification.projects import DocumentSpec, file_document
from web import charts, i18n
from web.i18n import N_
from web.pages import PageRoute, Viewer, checked_form, error_status, redirect, render, require, translate
from web.project_moves import move_project_from_form
from web.routes.applications import ONCE_COOKIE, hand_over_once, region_options, take_once, text

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 25
Text = Annotated[str | None, Query(max_length=200)]
# Projects that wait for the registrar (or a verifier) to validate them.
WAITING_PROJECTS = (ProjectStatus.SUBMITTED, ProjectStatus.UNDER_VALIDATION, ProjectStatus.CHANGES_REQUESTED)
EXPIRY_WARNING_DAYS = 90
MAX_KEY_FILE_BYTES = 64 * 1024
UPLOAD_CHUNK_BYTES = 1024 * 1024
MAX_FREEZE_REASON = 200


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _today() -> date:
    return datetime.now(UTC).date()


def _choice(value: str | None, allowed: Any, what: str) -> str | None:
    """A filter's value if it is one of the `allowed` enum's, refused in words otherwise."""
    value = _blank(value)
    if value is not None and value not in {member.value for member in allowed}:
        raise errors.InvalidRequest(f"unknown {what} {value!r}")
    return value


# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    applications: int
    projects: int
    reports: int
    suspended_parties: int
    expiring_accreditations: int


def _count(session: Session, query: Any) -> int:
    return int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _waiting(session: Session) -> Waiting:
    soon = _today() + timedelta(days=EXPIRY_WARNING_DAYS)
    return Waiting(
        applications=applications.count_waiting(session),
        projects=_count(session, select(col(Project.id)).where(col(Project.status).in_(WAITING_PROJECTS))),
        reports=_count(session, select(col(MonitoringReport.id)).where(
            col(MonitoringReport.status) == ReportStatus.VERIFIED.value)),
        suspended_parties=_count(session, select(col(Party.id)).where(
            col(Party.status) == PartyStatus.SUSPENDED.value)),
        expiring_accreditations=_count(session, select(col(VerifierAccreditation.id)).where(
            col(VerifierAccreditation.status) == AccreditationStatus.ACTIVE.value,
            col(VerifierAccreditation.valid_until) >= _today(), col(VerifierAccreditation.valid_until) <= soon)),
    )


def _methodology_title(request: Request, methodology_id: str) -> str:
    title = next((m.title for m in list_methodologies() if m.id == methodology_id), None)
    return translate(request, title) if title else methodology_id


@router.get("/registrar", response_class=HTMLResponse)
def dashboard(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    language = i18n.language_of(request)
    with db.read() as session:
        waiting = _waiting(session)
        figures = stats.registry_stats(session)
        verified = reports.readable_reports(registrar, _today()).where(
            col(MonitoringReport.status) == ReportStatus.VERIFIED.value).order_by(col(MonitoringReport.id)).limit(20)
        to_issue = [verification_queries.report_out(session, row[0]) for row in session.execute(verified)]
    issued, retired = translate(request, N_("Issued")), translate(request, N_("Retired"))
    vintage_chart = charts.column_chart(
        translate(request, N_("Issued and retired by vintage, tonnes")), [str(row.key) for row in figures.by_vintage],
        [charts.Series(issued, [row.issued_kg for row in figures.by_vintage], "chart-issued"),
         charts.Series(retired, [row.retired_kg for row in figures.by_vintage], "chart-retired")], "t", 1000)
    cross_chart = charts.bars([(i18n.region_name(str(row.key), language), row.retired_cross_regional_kg)
                               for row in figures.by_region if row.retired_cross_regional_kg])
    groups = [
        ("methodology", translate(request, N_("By methodology")),
         [(_methodology_title(request, str(row.key)), row) for row in figures.by_methodology]),
        ("region", translate(request, N_("By region of origin")),
         [(f"{i18n.region_name(str(row.key), language)} ({row.key})", row) for row in figures.by_region]),
        ("vintage", translate(request, N_("By vintage")), [(str(row.key), row) for row in figures.by_vintage]),
        ("month", translate(request, N_("By month")), [(str(row.key), row) for row in figures.by_month]),
    ]
    return render(request, "registrar/home.html", registrar, translate(request, N_("Registrar")), {
        "waiting": waiting, "stats": figures, "groups": groups, "vintage_chart": vintage_chart,
        "cross_regional": cross_chart, "to_issue": to_issue, "expiry_days": EXPIRY_WARNING_DAYS})


@router.post("/registrar/reports/{report_id}/issuance", response_class=HTMLResponse)
async def issue_report(request: Request, report_id: str, db: DB, party: Viewer) -> Response:
    """The registrar's second approval, where the registry requires it: the verified report's credits."""
    registrar = require(party, request, Role.REGISTRAR)
    await checked_form(request)
    with db.write() as session:
        flows.issue_report(session, registrar, reports.get_report(session, report_id))
    return redirect("/registrar")


# --- parties ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartySearch:
    q: str | None = None
    role: str | None = None
    status: str | None = None
    kind: str | None = None
    region: str | None = None


def _labelled(values: Any, language: str) -> list[tuple[str, str]]:
    return [(member.value, i18n.status_label(member.value, language)) for member in values]


@router.get("/registrar/parties", response_class=HTMLResponse)
def party_list(request: Request, db: DB, party: Viewer, q: Text = None, role: Text = None, status: Text = None,
               kind: Text = None, region: Text = None, cursor: Cursor = None) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    language = i18n.language_of(request)
    search = PartySearch(_blank(q), _choice(role, Role, "role"), _choice(status, PartyStatus, "status"),
                         _choice(kind, PartyKind, "kind"), _blank(region))
    with db.read() as session:
        found = queries.list_parties(session, registrar, queries.PartyFilters(**asdict(search)), _blank(cursor),
                                     PAGE_SIZE)
    kept = {name: value for name, value in asdict(search).items() if value is not None}
    next_url = (f"/registrar/parties?{urlencode({**kept, 'cursor': found.next_cursor})}"
                if found.next_cursor else None)
    return render(request, "registrar/parties.html", registrar, translate(request, N_("Parties")), {
        "parties": found.items, "next_url": next_url, "search": search, "role_choices": _labelled(Role, language),
        "statuses": _labelled(PartyStatus, language), "kinds": _labelled(PartyKind, language),
        "regions": region_options(language)})


def _new_party_form(request: Request, registrar: Party, values: dict[str, Any], problems: dict[str, str],
                    status_code: int = 200) -> HTMLResponse:
    language = i18n.language_of(request)
    return render(request, "registrar/party_new.html", registrar, translate(request, N_("Register a party")), {
        "values": values, "errors": problems, "role_choices": _labelled(Role, language),
        "regions": region_options(language)}, status_code=status_code)


@router.get("/registrar/parties/new", response_class=HTMLResponse)
def party_new(request: Request, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _new_party_form(request, registrar, {"kind": PartyKind.ORGANISATION.value, "roles": []}, {})


@router.post("/registrar/parties", response_class=HTMLResponse)
async def party_create(request: Request, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    values: dict[str, Any] = {"name": text(form, "name"), "kind": text(form, "kind"), "region": text(form, "region"),
                              "roles": [r for r in form.getlist("roles") if isinstance(r, str)]}
    problems: dict[str, str] = {}
    region = values["region"].strip() or None
    if region is not None:
        try:
            check_region(region)
        except errors.InvalidRequest as exc:
            problems["region"] = exc.message
    if values["kind"] not in {k.value for k in PartyKind}:
        problems["kind"] = translate(request, N_("Choose organisation or individual."))
    if any(r not in {role.value for role in Role} for r in values["roles"]):
        problems["roles"] = translate(request, N_("Choose the roles from the list."))
    if problems:
        return _new_party_form(request, registrar, values, problems, 422)
    try:
        with db.write() as session:
            created = parties.create_party(session, registrar, values["name"], PartyKind(values["kind"]),
                                           [Role(r) for r in values["roles"]], region)
            party_id = created.public_id
    except errors.InvalidRequest as exc:
        field = "roles" if "role" in exc.message else "name"
        return _new_party_form(request, registrar, values, {field: exc.message}, error_status(exc))
    return redirect(f"/registrar/parties/{party_id}")


def _party_page(request: Request, db: DB, registrar: Party, party_id: str, problems: dict[str, str],
                reason: str = "", status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        found = parties.get_party(session, party_id)
        accounts = [queries.account_out(session, account) for account in session.execute(
            readable_accounts_query(registrar).where(col(Account.party_id) == found.id)
            .order_by(col(Account.id))).scalars()]
        detail = queries.party_out(found)
    return render(request, "registrar/party.html", registrar, detail.name, {
        "detail": detail, "accounts": accounts, "errors": problems, "reason": reason,
        "is_self": found.id == registrar.id}, status_code=status_code)


@router.get("/registrar/parties/{party_id}", response_class=HTMLResponse)
def party_page(request: Request, party_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _party_page(request, db, registrar, party_id, {})


@router.post("/registrar/parties/{party_id}/status", response_class=HTMLResponse)
async def party_status(request: Request, party_id: str, db: DB, party: Viewer) -> Response:
    """Suspend (its keys and sessions stop working) or reactivate, with a reason kept with the party."""
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    action, reason = text(form, "action"), text(form, "reason")
    status = {"suspend": PartyStatus.SUSPENDED, "reactivate": PartyStatus.ACTIVE}.get(action)
    if status is None:
        raise errors.InvalidRequest("choose suspend or reactivate")
    try:
        with db.write() as session:
            parties.set_party_status(session, registrar, parties.get_party(session, party_id), status, reason)
    except (errors.InvalidRequest, errors.Conflict) as exc:
        field = "reason" if isinstance(exc, errors.InvalidRequest) and "reason" in exc.message else "_"
        return _party_page(request, db, registrar, party_id, {field: exc.message}, reason, error_status(exc))
    request.app.state.api_key_cache.clear()  # this worker at once, as the API does; others within seconds
    return redirect(f"/registrar/parties/{party_id}")


@router.post("/registrar/parties/{party_id}/api-keys", response_class=HTMLResponse)
async def party_key(request: Request, party_id: str, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    label = text(form, "label").strip()
    if len(label) > 100:
        return _party_page(request, db, registrar, party_id,
                           {"label": translate(request, N_("Shorten the label to at most 100 characters."))},
                           status_code=422)
    with db.write() as session:
        _, secret = parties.issue_api_key(session, registrar, parties.get_party(session, party_id), label)
    path = f"/registrar/parties/{party_id}/key"
    response = redirect(path)
    hand_over_once(response, request, path, secret)
    return response


@router.get("/registrar/parties/{party_id}/key", response_class=HTMLResponse)
def party_key_once(request: Request, party_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    with db.read() as session:
        detail = queries.party_out(parties.get_party(session, party_id))
    response = render(request, "registrar/party_key.html", registrar, translate(request, N_("A new API key")),
                      {"detail": detail, "api_key": request.cookies.get(ONCE_COOKIE)})
    take_once(request, response)
    return response


# --- accreditations -----------------------------------------------------------------------------


def _expiring(accreditations: list[Any]) -> set[str]:
    soon = _today() + timedelta(days=EXPIRY_WARNING_DAYS)
    return {a.id for a in accreditations if a.status == AccreditationStatus.ACTIVE and a.valid_until <= soon}


@router.get("/registrar/accreditations", response_class=HTMLResponse)
def accreditation_list(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    with db.read() as session:
        found = verification_queries.list_accreditations(session)
    return render(request, "registrar/accreditations.html", registrar, translate(request, N_("Accreditations")), {
        "accreditations": found, "expiring": _expiring(found), "expiry_days": EXPIRY_WARNING_DAYS})


def _methodology_choices(request: Request) -> list[tuple[str, str]]:
    installed = sorted({m.id for m in list_methodologies()})
    return [("*", translate(request, N_("Every methodology (*)")))] + [
        (methodology_id, f"{_methodology_title(request, methodology_id)} ({methodology_id})")
        for methodology_id in installed]


def _new_accreditation_form(request: Request, db: DB, registrar: Party, values: dict[str, Any],
                            problems: dict[str, str], status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        verifiers = queries.list_parties(session, registrar, queries.PartyFilters(role=Role.VERIFIER.value),
                                         None, 500).items
    return render(request, "registrar/accreditation_new.html", registrar,
                  translate(request, N_("Accredit a verifier")), {
                      "values": values, "errors": problems, "methodologies": _methodology_choices(request),
                      "verifiers": [(p.id, p.name) for p in verifiers]}, status_code=status_code)


@router.get("/registrar/accreditations/new", response_class=HTMLResponse)
def accreditation_new(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    today = _today()
    return _new_accreditation_form(request, db, registrar, {
        "methodologies": [], "regions": "", "valid_from": today.isoformat(),
        "valid_until": today.replace(year=today.year + 3).isoformat() if (today.month, today.day) != (2, 29)
        else (today + timedelta(days=3 * 365)).isoformat()}, {})


def _accreditation_field(exc: errors.RegistryError, values: dict[str, Any]) -> str:
    """The field of the accreditation form a refusal of `accredit_verifier` concerns."""
    message = exc.message
    if isinstance(exc, errors.NotFound | errors.PermissionDenied):
        return "party"
    if "valid_until" in message:
        return "valid_until"
    if "names its methodologies and regions" in message:
        return "methodologies" if not values["methodologies"] else "regions"
    if "methodology" in message:
        return "methodologies"
    if "ISO 3166-2" in message:
        return "regions"
    return "public_key_pem"


def _day(form: FormData, name: str, problems: dict[str, str], message: str) -> date | None:
    try:
        return date.fromisoformat(text(form, name).strip())
    except ValueError:
        problems[name] = message
        return None


async def _key_text(form: FormData) -> str:
    """The public key pasted in the form, else the one in the chosen file."""
    pasted = text(form, "public_key_pem").strip()
    key_file = form.get("public_key_file")
    if pasted or not isinstance(key_file, UploadFile) or not key_file.filename:
        return pasted
    return (await key_file.read(MAX_KEY_FILE_BYTES + 1))[:MAX_KEY_FILE_BYTES].decode("utf-8", "replace").strip()


@router.post("/registrar/accreditations", response_class=HTMLResponse)
async def accreditation_create(request: Request, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    values: dict[str, Any] = {
        "party": text(form, "party"), "public_key_pem": await _key_text(form),
        "methodologies": [m for m in form.getlist("methodologies") if isinstance(m, str)],
        "regions": text(form, "regions"), "valid_from": text(form, "valid_from"),
        "valid_until": text(form, "valid_until")}
    problems: dict[str, str] = {}
    valid_from = _day(form, "valid_from", problems, translate(request, N_("Enter a date like 2026-12-31.")))
    valid_until = _day(form, "valid_until", problems, translate(request, N_("Enter a date like 2026-12-31.")))
    if not values["public_key_pem"]:
        problems["public_key_pem"] = translate(request, N_("Paste the verifier's public key, or choose its file."))
    regions = [r for r in values["regions"].replace(",", " ").split() if r]
    if problems or valid_from is None or valid_until is None:
        return _new_accreditation_form(request, db, registrar, values, problems, 422)
    try:
        with db.write() as session:
            created = accreditation.accredit_verifier(session, registrar, values["party"], values["public_key_pem"],
                                                      values["methodologies"], regions, valid_from, valid_until)
            accreditation_id = created.public_id
    except errors.RegistryError as exc:
        return _new_accreditation_form(request, db, registrar, values, {_accreditation_field(exc, values): exc.message},
                                       error_status(exc))
    return redirect(f"/registrar/accreditations/{accreditation_id}")


ACCREDITATION_ACTIONS = {AccreditationStatus.ACTIVE: N_("Reinstate"), AccreditationStatus.SUSPENDED: N_("Suspend"),
                         AccreditationStatus.REVOKED: N_("Revoke for good")}


def _accreditation_page(request: Request, db: DB, registrar: Party, accreditation_id: str,
                        problems: dict[str, str], reason: str = "", status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        found = accreditation.get_accreditation(session, accreditation_id)
        detail = verification_queries.accreditation_out(session, found)
    next_statuses = accreditation.ACCREDITATION_TRANSITIONS.get(AccreditationStatus(detail.status), set())
    actions = [(status.value, translate(request, label)) for status, label in ACCREDITATION_ACTIONS.items()
               if status in next_statuses]
    return render(request, "registrar/accreditation.html", registrar,
                  translate(request, N_("Accreditation")) + " " + detail.id, {
                      "accreditation": detail, "actions": actions, "errors": problems, "reason": reason,
                      "expiring": _expiring([detail]), "expiry_days": EXPIRY_WARNING_DAYS},
                  status_code=status_code)


@router.get("/registrar/accreditations/{accreditation_id}", response_class=HTMLResponse)
def accreditation_page(request: Request, accreditation_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _accreditation_page(request, db, registrar, accreditation_id, {})


@router.post("/registrar/accreditations/{accreditation_id}/status", response_class=HTMLResponse)
async def accreditation_status(request: Request, accreditation_id: str, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    reason = text(form, "reason")
    try:
        status = AccreditationStatus(text(form, "status"))
    except ValueError as exc:
        raise errors.InvalidRequest("choose suspend, reinstate or revoke") from exc
    try:
        with db.write() as session:
            accreditation.set_accreditation_status(
                session, registrar, accreditation.get_accreditation(session, accreditation_id), status, reason)
    except (errors.InvalidRequest, errors.Conflict) as exc:
        field = "reason" if isinstance(exc, errors.InvalidRequest) else "_"
        return _accreditation_page(request, db, registrar, accreditation_id, {field: exc.message}, reason,
                                   error_status(exc))
    return redirect(f"/registrar/accreditations/{accreditation_id}")


# --- projects -----------------------------------------------------------------------------------


@router.get("/registrar/projects", response_class=HTMLResponse)
def project_list(request: Request, db: DB, party: Viewer, q: Text = None, status: Text = None,
                 cursor: Cursor = None) -> HTMLResponse:
    """Projects waiting for a decision by default; any one status on request."""
    registrar = require(party, request, Role.REGISTRAR)
    language = i18n.language_of(request)
    chosen = _choice(status, ProjectStatus, "project status")
    query = queries.projects_query(queries.ProjectFilters(status=chosen, q=_blank(q)))
    if chosen is None:
        query = query.where(col(Project.status).in_(WAITING_PROJECTS))
    with db.read() as session:
        rows, next_cursor = queries.page(session, query, col(Project.id), _blank(cursor), PAGE_SIZE)
    kept = {name: value for name, value in (("q", _blank(q)), ("status", chosen)) if value is not None}
    next_url = f"/registrar/projects?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None
    title = translate(request, N_("Projects waiting for a decision") if chosen is None else N_("Projects"))
    return render(request, "registrar/projects.html", registrar, title, {
        "projects": [queries.project_row_out(row) for row in rows], "next_url": next_url, "q": _blank(q) or "",
        "status": chosen, "statuses": _labelled(ProjectStatus, language)})


def _project_page(request: Request, db: DB, registrar: Party, project_id: str, problems: dict[str, str],
                  values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        found = get_project(session, project_id)
        detail = queries.project_out(session, found)
        documents = verification_queries.project_documents(session, found)
        trail = verification_queries.trail(session, verification_queries.project_trail_subjects(session, found),
                                           with_notes=True)
        next_statuses = sorted(allowed_transitions(registrar, found, None))
    return render(request, "registrar/project.html", registrar, detail.name, {
        "project": detail, "documents": documents, "trail": trail, "next_statuses": next_statuses,
        "has_validation_report": any(d.kind == DocumentKind.VALIDATION_REPORT for d in documents),
        "errors": problems, "values": values or {}}, status_code=status_code)


@router.get("/registrar/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, project_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _project_page(request, db, registrar, project_id, {})


@router.post("/registrar/projects/{project_id}/status", response_class=HTMLResponse)
async def project_status(request: Request, project_id: str, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    return await move_project_from_form(
        request, db, registrar, project_id, get_project,
        lambda problems, values, status: _project_page(request, db, registrar, project_id, problems, values, status),
        f"/registrar/projects/{project_id}")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
        yield chunk


@router.post("/registrar/projects/{project_id}/validation-report", response_class=HTMLResponse)
async def validation_report(request: Request, project_id: str, db: DB, party: Viewer) -> Response:
    """The registrar validates like a verifier: it files its validation report before registering."""
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    title, upload = text(form, "title").strip(), form.get("report")
    values = {"title": title}
    problems: dict[str, str] = {}
    if not title or len(title) > 200:
        problems["title"] = translate(request, N_("Give the report a title of at most 200 characters."))
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems["report"] = translate(request, N_("Choose the report's file."))
    if problems or not isinstance(upload, UploadFile):
        return _project_page(request, db, registrar, project_id, problems, values, 422)
    try:
        sha256, size = await request.app.state.blobs.put_stream(_chunks(upload),
                                                                request.app.state.settings.max_upload_bytes)
        with db.write() as session:
            file_document(session, registrar, get_project(session, project_id), DocumentSpec(
                title, (upload.filename or "validation-report")[:200], sha256, size, DocumentKind.VALIDATION_REPORT))
    except (errors.InvalidRequest, errors.Conflict, errors.PermissionDenied) as exc:
        return _project_page(request, db, registrar, project_id, {"report": exc.message}, values, error_status(exc))
    return redirect(f"/registrar/projects/{project_id}")


# --- freezes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldBlock:
    """A block as the public sees it, with the account and party that hold it: the registrar's view."""

    block: schemas.PublicBlockOut
    account: str
    account_kind: str
    holder: str | None


def _held_blocks(session: Session, rows: list[Any]) -> list[HeldBlock]:
    account_ids = {row[0].account_id for row in rows}
    accounts = {row.id: row for row in session.execute(
        select(col(Account.id), col(Account.public_id), col(Account.kind), col(Party.name))
        .outerjoin(Party, col(Party.id) == col(Account.party_id)).where(col(Account.id).in_(account_ids)))}
    return [HeldBlock(queries.public_block_row_out(row), accounts[row[0].account_id].public_id,
                      accounts[row[0].account_id].kind, accounts[row[0].account_id].name) for row in rows]


@router.get("/registrar/freezes", response_class=HTMLResponse)
def freezes(request: Request, db: DB, party: Viewer, serial: Text = None, issuance: Text = None,
            done: Annotated[Literal["frozen", "unfrozen"] | None, Query()] = None) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    serial, issuance = _blank(serial), _blank(issuance)
    blocks: list[HeldBlock] | None = None
    if serial is not None or issuance is not None:
        with db.read() as session:
            rows = session.execute(queries.public_blocks_query(serial, issuance)
                                   .order_by(col(CreditBlock.issuance_id), col(CreditBlock.first_unit))
                                   .limit(500)).all()
            blocks = _held_blocks(session, list(rows))
    return render(request, "registrar/freezes.html", registrar, translate(request, N_("Freezes")), {
        "serial": serial or "", "issuance": issuance or "", "blocks": blocks, "done": done})


def _block(session: Session, block_id: str) -> HeldBlock:
    found = get_by_public_id(session, CreditBlock, block_id, lambda: errors.NotFound(f"no block {block_id}"))
    rows = session.execute(queries.public_blocks_query(None, _issuance_id(session, found))
                           .where(col(CreditBlock.id) == found.id)).all()
    return _held_blocks(session, list(rows))[0]


def _issuance_id(session: Session, block: CreditBlock) -> str:
    return str(session.execute(select(col(Issuance.public_id)).where(col(Issuance.id) == block.issuance_id))
               .scalar_one())


def _freeze_form(request: Request, db: DB, registrar: Party, block_id: str, values: dict[str, str],
                 problems: dict[str, str], status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        held = _block(session, block_id)
    freezing = held.block.status == "active"
    title = translate(request, N_("Freeze credits") if freezing else N_("Unfreeze credits"))
    return render(request, "registrar/freeze.html", registrar, title, {
        "held": held, "freezing": freezing, "errors": problems,
        "values": {"first_unit": str(held.block.first_unit), "last_unit": str(held.block.last_unit), "reason": "",
                   **values}}, status_code=status_code)


@router.get("/registrar/freezes/{block_id}", response_class=HTMLResponse)
def freeze_page(request: Request, block_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _freeze_form(request, db, registrar, block_id, {}, {})


def _unit(form: FormData, name: str, problems: dict[str, str], message: str) -> int:
    value = text(form, name).strip().replace(",", "")
    if not value.isdigit() or len(value) > 13:
        problems[name] = message
        return 0
    return int(value)


@router.post("/registrar/freezes/{block_id}", response_class=HTMLResponse)
async def freeze_submit(request: Request, block_id: str, db: DB, party: Viewer) -> Response:
    """Freeze or release a range of a block's units, through the service behind POST /api/v1/freezes
    and /unfreezes; the form says which, so that a block changed meanwhile is not flipped back."""
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    action = text(form, "action")
    if action not in ("freeze", "unfreeze"):
        raise errors.InvalidRequest("choose freeze or unfreeze")
    values = {name: text(form, name) for name in ("first_unit", "last_unit", "reason")}
    problems: dict[str, str] = {}
    message = translate(request, N_("Enter a unit number: a whole number, like 1000."))
    first, last = _unit(form, "first_unit", problems, message), _unit(form, "last_unit", problems, message)
    if len(values["reason"].strip()) > MAX_FREEZE_REASON:  # the API's limit (registry.schemas.FreezeCreate)
        problems["reason"] = translate(request, N_("Shorten the reason to at most 200 characters."))
    if problems:
        return _freeze_form(request, db, registrar, block_id, values, problems, 422)
    try:
        with db.write() as session:
            held = _block(session, block_id)
            credits.set_frozen(session, registrar, held.account, None,
                               credits.SerialRangeSelection(held.block.issuance, first, last), values["reason"],
                               action == "freeze")
    except (errors.InvalidRequest, errors.Conflict, errors.PermissionDenied) as exc:
        field = "reason" if "reason" in exc.message else "first_unit" if isinstance(exc, errors.InvalidRequest) \
            else "_"
        return _freeze_form(request, db, registrar, block_id, values, {field: exc.message}, error_status(exc))
    done = "frozen" if action == "freeze" else "unfrozen"
    return redirect(f"/registrar/freezes?{urlencode({'issuance': held.block.issuance, 'done': done})}")
