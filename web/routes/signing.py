"""A verifier signs a verification statement in its own browser, and approves the report with it.

The private key never reaches the server: the page (`web/static/js/sign.js`) reads the key file
with FileReader, imports it into WebCrypto as a non-extractable key, signs the statement's RFC 8785
bytes and checks the signature with the accreditation's public key before sending statement and
signature. The server side is the JSON API's, with the session cookie instead of an API key: the
template is `flows.statement_template`, the approval `flows.approve_report`, and every rule (who
is assigned, what the statement must say, the signature) is theirs.

The two JSON routes answer a refusal as `{"title", "detail"}` with the status a page would have,
so that the script can show it next to the button.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import DB, AppSettings
from registry.errors import InvalidRequest, RegistryError
from registry.models import Party, Role
from verification import flows, queries, reports
from verification.models import ReportStatus
from verification.schemas import Approval, ApprovalOut
from web.i18n import N_
from web.pages import (
    CsrfRefused,
    PageRoute,
    RoleMissing,
    SignInRequired,
    Viewer,
    check_csrf_header,
    error_status,
    error_title,
    render,
    require,
    translate,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/verifier/reports/{report_id}/sign", response_class=HTMLResponse)
def sign_page(request: Request, report_id: str, db: DB, party: Viewer) -> HTMLResponse:
    me = require(party, request, Role.VERIFIER)
    with db.read() as session:
        report = queries.report_out(session, reports.get_readable_report(session, me, report_id))
    return render(request, "verifier/sign.html", me, translate(request, N_("Sign and approve %(id)s")) % {
        "id": report_id}, {
        "report": report,
        "signable": report.status == ReportStatus.UNDER_VERIFICATION and report.verifier == me.public_id})


def _refusal(request: Request, status: int, detail: str) -> JSONResponse:
    return JSONResponse({"title": error_title(request, status), "detail": detail}, status_code=status)


def json_answer(request: Request, party: Party | None, answer: Callable[[Party], Any],
             status_code: int = 200) -> JSONResponse:
    """`answer` for the signed-in verifier, or the refusal as JSON: a script, not a person, reads it."""
    try:
        return JSONResponse(answer(require(party, request, Role.VERIFIER)), status_code=status_code)
    except SignInRequired:
        return _refusal(request, 401, translate(request, N_("Your session has ended: sign in again.")))
    except RoleMissing:
        return _refusal(request, 403, translate(request, N_("Your party does not have the role this page is for.")))
    except CsrfRefused:
        return _refusal(request, 403, translate(request, N_("Reload the page and send the form again.")))
    except RegistryError as exc:
        return _refusal(request, error_status(exc), exc.message)


@router.get("/verifier/reports/{report_id}/statement-template")
def statement_template(request: Request, report_id: str, db: DB, party: Viewer) -> JSONResponse:
    """What `GET /api/v1/reports/{id}/statement-template` answers, for the signed-in verifier."""

    def template(me: Party) -> dict[str, Any]:
        with db.read() as session:
            return flows.statement_template(session, me, reports.get_report(session, report_id))

    return json_answer(request, party, template)


@router.post("/verifier/reports/{report_id}/approval")
async def approve(request: Request, report_id: str, db: DB, party: Viewer, settings: AppSettings) -> JSONResponse:
    """What `POST /api/v1/reports/{id}/approval` does, for the signed-in verifier; the CSRF token
    comes in the `X-CSRF-Token` header, as scripts send it."""
    body = await request.body()

    def approval(me: Party) -> dict[str, Any]:
        check_csrf_header(request)
        try:
            signed = Approval.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidRequest(translate(request, N_("Send the statement and its signature as JSON."))) from exc
        with db.write() as session:
            report = reports.get_report(session, report_id)
            approved = flows.approve_report(session, me, report, signed.statement, signed.signature,
                                            settings.issuance_needs_registrar_approval)
            return ApprovalOut(report=queries.report_out(session, report), statement_sha256=approved.statement_sha256,
                               issuances=[m.public_id for m in approved.issued],
                               ledger_entries=[m.ledger_entry_id for m in approved.issued]).model_dump(mode="json")

    return await run_in_threadpool(json_answer, request, party, approval, 201)
