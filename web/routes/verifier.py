"""The verifier's pages: the queue of monitoring reports (waiting for any verifier in scope, and
its own), the review of a report (the same chart, findings and totals as its owner sees, the raw
data, the trail) with its actions, and the projects waiting for validation.

What a verifier may see and do is the services' rule: the queue is `verification.queries.list_reports`,
a report is read through `get_readable_report`, a project in scope through `check_may_verify`.
Signing and approving is the signing page's (`/verifier/reports/{id}/sign`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from api.deps import DB, AppSettings, Blobs
from methodologies.registry import list_methodologies
from registry import errors, queries
from registry.errors import RegistryError
from registry.models import Party, Project, ProjectStatus, Role, pk
from registry.projects import allowed_transitions, get_project
from verification import queries as verification_queries
from verification.accreditation import check_may_verify, may_verify_clause
from verification.blobs import BlobStore
from verification.models import DocumentKind, MonitoringReport, ReportStatus
from verification.projects import DocumentSpec, file_document
from verification.queries import ReportFilters
from verification.reports import comment, get_readable_report, reject_report, request_changes, start_verification
from verification.schemas import Note
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
QUEUE_PAGE = 25


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _region_options(session: Session, language: str) -> list[tuple[str, str]]:
    codes = sorted(session.execute(select(col(Project.region)).distinct()).scalars())
    return [(code, f"{i18n.region_name(code, language)} ({code})") for code in codes]


@router.get("/verifier", response_class=HTMLResponse)
def queue(request: Request, db: DB, party: Viewer, status: Text = None, methodology_id: Text = None,
          region: Text = None, waiting_cursor: Text = None, mine_cursor: Text = None) -> HTMLResponse:
    me = require(party, request, Role.VERIFIER)
    status_value = _blank(status)
    if status_value is not None and status_value not in ReportStatus.__members__.values():
        raise errors.InvalidRequest(f"unknown report status {status_value!r}")
    filters = {"status": status_value, "methodology_id": _blank(methodology_id), "region": _blank(region)}
    language = i18n.language_of(request)
    with db.read() as session:
        waiting = verification_queries.list_reports(
            session, me, ReportFilters(status_value, filters["methodology_id"], filters["region"], waiting=True),
            _blank(waiting_cursor), QUEUE_PAGE)
        mine = verification_queries.list_reports(
            session, me, ReportFilters(status_value, filters["methodology_id"], filters["region"], assigned_to_me=True),
            _blank(mine_cursor), QUEUE_PAGE)
        regions = _region_options(session, language)
        to_validate = session.execute(
            select(func.count()).select_from(_projects_to_validate(me).subquery())).scalar_one()
    kept = {name: value for name, value in filters.items() if value is not None}

    def next_url(cursor_name: str, cursor: str | None) -> str | None:
        return f"/verifier?{urlencode({**kept, cursor_name: cursor})}" if cursor else None

    return render(request, "verifier/queue.html", me, translate(request, N_("Verification")), {
        "waiting": waiting.items, "mine": mine.items, "filters": filters,
        "waiting_next": next_url("waiting_cursor", waiting.next_cursor),
        "mine_next": next_url("mine_cursor", mine.next_cursor), "to_validate": to_validate,
        "statuses": [(s.value, i18n.status_label(s.value, language)) for s in ReportStatus],
        "methodologies": [(m.id, f"{translate(request, m.title)} ({m.id})") for m in list_methodologies()],
        "regions": regions})


# --- reviewing a report ---------------------------------------------------------------------------


def _review_page(request: Request, db: DB, blobs: BlobStore, me: Party, report_id: str,
                 errors_: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        report = get_readable_report(session, me, report_id)
        fields = reports_view.param_fields(request, reports_view.methodology_of_report(session, report))
        view = reports_view.report_view(request, session, report, blobs, fields)
    status = view.report.status
    assigned = report.verifier_party_id == me.id
    return render(request, "verifier/review.html", me, translate(request, N_("Review of %(id)s")) % {"id": report_id}, {
        "view": view, "assigned": assigned,
        "may_take": status == ReportStatus.SUBMITTED and report.verifier_party_id in (None, me.id),
        "verifying": status == ReportStatus.UNDER_VERIFICATION and assigned,
        "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/verifier/reports/{report_id}", response_class=HTMLResponse)
def review(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> HTMLResponse:
    return _review_page(request, db, blobs, require(party, request, Role.VERIFIER), report_id)


@router.get("/verifier/reports/{report_id}/data")
def report_data(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> FileResponse:
    return reports_view.data_file(db, blobs, require(party, request), report_id)


ReportStep = Callable[[Session, Party, MonitoringReport], None]


async def _report_step(request: Request, db: DB, blobs: BlobStore, me: Party, report_id: str, step: ReportStep,
                       field: str, values: dict[str, str]) -> Response:
    """One workflow step on a report the verifier may read; a refusal is shown next to `field`."""

    def run() -> None:
        with db.write() as session:
            step(session, me, get_readable_report(session, me, report_id))

    try:
        await run_in_threadpool(run)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _review_page(request, db, blobs, me, report_id, {field: exc.message}, values, error_status(exc))
    return redirect(f"/verifier/reports/{report_id}")


@router.post("/verifier/reports/{report_id}/take", response_class=HTMLResponse)
async def take(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    me = require(party, request, Role.VERIFIER)
    await checked_form(request)
    return await _report_step(request, db, blobs, me, report_id, start_verification, "_", {})


async def _noted_step(request: Request, db: DB, blobs: BlobStore, party: Party | None, report_id: str, field: str,
                      missing: str, step: Callable[[Session, Party, MonitoringReport, str], None]) -> Response:
    """A step whose note is required (the API's `Note`): changes, rejection, a comment."""
    me = require(party, request, Role.VERIFIER)
    form = await checked_form(request)
    values = entered_values(form)
    try:
        note = Note(note=field_text(form, field)).note
    except ValidationError:
        return _review_page(request, db, blobs, me, report_id, {field: translate(request, missing)}, values, 422)
    return await _report_step(request, db, blobs, me, report_id,
                              lambda session, actor, report: step(session, actor, report, note), field, values)


@router.post("/verifier/reports/{report_id}/comments", response_class=HTMLResponse)
async def comment_on(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    return await _noted_step(request, db, blobs, party, report_id, "comment",
                             N_("Write the comment, in at most 4,000 characters."), comment)


@router.post("/verifier/reports/{report_id}/changes", response_class=HTMLResponse)
async def ask_for_changes(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    return await _noted_step(request, db, blobs, party, report_id, "changes_note",
                             N_("Write what the owner must change: the note is required (at most 4,000 characters)."),
                             request_changes)


@router.post("/verifier/reports/{report_id}/rejection", response_class=HTMLResponse)
async def reject(request: Request, report_id: str, db: DB, party: Viewer, blobs: Blobs) -> Response:
    return await _noted_step(request, db, blobs, party, report_id, "reject_note",
                             N_("Write why the report is rejected: the note is required (at most 4,000 characters)."),
                             reject_report)


# --- projects to validate -------------------------------------------------------------------------

VALIDATION_STATUSES = (ProjectStatus.SUBMITTED.value, ProjectStatus.UNDER_VALIDATION.value)
# What the validator's buttons say for each status it may move a project to.
VALIDATION_MOVES = {
    ProjectStatus.UNDER_VALIDATION.value: N_("Take for validation"),
    ProjectStatus.REGISTERED.value: N_("Register the project"),
    ProjectStatus.CHANGES_REQUESTED.value: N_("Request changes"),
    ProjectStatus.REJECTED.value: N_("Reject the project"),
}


def _projects_to_validate(me: Party) -> queries.AnySelect:
    """Submitted projects and projects under validation that the verifier may validate: its
    accreditation covers them and they are neither its own nor an affiliated party's."""
    return queries.projects_query(queries.ProjectFilters()).where(
        col(Project.status).in_(VALIDATION_STATUSES), may_verify_clause(pk(me), datetime.now(UTC).date()))


@router.get("/verifier/projects", response_class=HTMLResponse)
def projects_to_validate(request: Request, db: DB, party: Viewer, cursor: Text = None) -> HTMLResponse:
    me = require(party, request, Role.VERIFIER)
    with db.read() as session:
        rows, next_cursor = queries.page(session, _projects_to_validate(me), col(Project.id), _blank(cursor),
                                         QUEUE_PAGE)
        projects = [queries.project_row_out(row) for row in rows]
    return render(request, "verifier/projects.html", me, translate(request, N_("Projects to validate")), {
        "projects": projects, "next_url": f"/verifier/projects?cursor={next_cursor}" if next_cursor else None})


def _validation_page(request: Request, db: DB, me: Party, project_id: str, errors_: dict[str, str] | None = None,
                     values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        project = get_project(session, project_id)
        accreditation = check_may_verify(session, me, project, datetime.now(UTC).date())
        moves = sorted(allowed_transitions(me, project, accreditation))
        detail = queries.project_out(session, project)
        page = {"project": detail, "assets": verification_queries.project_assets(session, project),
                "documents": verification_queries.project_documents(session, project),
                "trail": verification_queries.trail(session, [project.public_id], with_notes=True)}
    return render(request, "verifier/project.html", me, detail.name, {
        **page, "moves": [(status, translate(request, VALIDATION_MOVES.get(status, status))) for status in moves],
        "may_file": detail.status == ProjectStatus.UNDER_VALIDATION, "errors": errors_ or {},
        "values": values or {}}, status_code)


@router.get("/verifier/projects/{project_id}", response_class=HTMLResponse)
def validation(request: Request, project_id: str, db: DB, party: Viewer) -> HTMLResponse:
    return _validation_page(request, db, require(party, request, Role.VERIFIER), project_id)


@router.post("/verifier/projects/{project_id}/status", response_class=HTMLResponse)
async def move_project(request: Request, project_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.VERIFIER)
    return await move_project_from_form(
        request, db, me, project_id, get_project,
        lambda problems, values, status: _validation_page(request, db, me, project_id, problems, values, status),
        f"/verifier/projects/{project_id}")


@router.post("/verifier/projects/{project_id}/validation-report", response_class=HTMLResponse)
async def file_validation_report(request: Request, project_id: str, db: DB, party: Viewer, blobs: Blobs,
                                 settings: AppSettings) -> Response:
    me = require(party, request, Role.VERIFIER)
    refuse_oversized(request, settings)
    form = await checked_form(request)
    values = entered_values(form)
    upload = chosen_file(form, "validation_report")
    title = field_text(form, "title") or translate(request, N_("Validation report"))
    if upload is None:
        return _validation_page(request, db, me, project_id, {"validation_report": translate(
            request, N_("Choose the validation report's file."))}, values, 422)
    try:
        sha256, size = await store_upload(upload, blobs, settings)
    except RegistryError as exc:
        return _validation_page(request, db, me, project_id, {"validation_report": exc.message}, values,
                                error_status(exc))
    document = DocumentSpec(title[:200], upload_name(upload)[:200], sha256, size, DocumentKind.VALIDATION_REPORT)

    def file_it() -> None:
        with db.write() as session:
            file_document(session, me, get_project(session, project_id), document)

    try:
        await run_in_threadpool(file_it)
    except RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _validation_page(request, db, me, project_id, {"validation_report": exc.message}, values,
                                error_status(exc))
    return redirect(f"/verifier/projects/{project_id}")
