"""Moving a project through its lifecycle from a page. The owner's, the verifier's and the
registrar's forms post the same two fields (status, note) to the same service,
`verification.projects.change_project_status`, which decides who may make which move."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from registry import errors
from registry.db import Database
from registry.models import Party, Project
from registry.schemas import ProjectStatusChange
from verification.projects import change_project_status
from web.i18n import N_
from web.pages import checked_form, error_status, redirect, translate
from web.reports_view import entered_values, field_text

NOTE_TOO_LONG = N_("Keep the note to at most 4,000 characters.")

# The project's page again, with (errors by field, the values entered, the HTTP status).
ProjectPage = Callable[[dict[str, str], dict[str, str], int], HTMLResponse]


async def move_project_from_form(request: Request, db: Database, me: Party, project_id: str,
                                 find: Callable[[Session, str], Project], page: ProjectPage, done: str) -> Response:
    """Apply the move the form asks for, then go to `done`; a refusal shows the page again with the
    service's reason. A status the form never offers is a bad request, not a field to correct."""
    form = await checked_form(request)
    try:
        change = ProjectStatusChange(status=field_text(form, "status"), note=field_text(form, "note"))
    except ValidationError as exc:
        if any(error["loc"][:1] == ("status",) for error in exc.errors()):
            raise errors.InvalidRequest(f"no project status {field_text(form, 'status')!r}") from exc
        return page({"note": translate(request, NOTE_TOO_LONG)}, entered_values(form), 422)

    def move_it() -> None:
        with db.write() as session:
            change_project_status(session, me, find(session, project_id), change.status, change.note)

    try:
        await run_in_threadpool(move_it)
    except errors.RegistryError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return page({"_": exc.message}, entered_values(form), error_status(exc))
    return redirect(done)
