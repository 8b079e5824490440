"""Applying for an account (anyone), the registrar's decision, and claiming the key.

A household applies on `/apply` and is shown a reference and a one-time claim code; with both it
comes back to `/apply/status` to read the decision and, once approved, to collect its API key and
be signed in. The registrar reads the applications, contact details included, and approves or
rejects each. Every rule is `registry.applications`'; these pages only ask and show.

A secret (a claim code, an API key) is shown once, on the page a successful form leads to: the
form's answer hands it to that page in a short-lived cookie limited to the page's path, and the
page deletes the cookie as it shows it (`hand_over_once`, `take_once`).
"""

from __future__ import annotations

from typing import Annotated

import pycountry
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from api.deps import DB
from api.listing import Cursor
from registry import applications, errors
from registry.models import ApplicationStatus, Party, PartyKind, Role
from web import i18n
from web.i18n import N_
from web.pages import PageRoute, Viewer, checked_form, error_status, redirect, render, require, translate
from web.sessions import SignInRefused, set_session_cookie, sign_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ONCE_COOKIE = "cir_once"
ONCE_SECONDS = 600
PAGE_SIZE = 25
RECENTLY_DECIDED = 20


# --- helpers shared with the registrar's pages -------------------------------------------------


def hand_over_once(response: Response, request: Request, path: str, secret: str) -> None:
    """Give the page at `path` a secret to show once: an HttpOnly, SameSite=Strict cookie that only
    that page receives, for ten minutes at most. Nothing else keeps it."""
    response.set_cookie(ONCE_COOKIE, secret, max_age=ONCE_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=path)


def take_once(request: Request, response: Response) -> None:
    """The page has shown its secret: the browser forgets it, and keeps no copy of the page."""
    response.delete_cookie(ONCE_COOKIE, path=request.url.path, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"


def text(form: FormData, name: str) -> str:
    """A text field of a submitted form ("" when it is missing or is a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def region_options(language: str) -> list[tuple[str, str]]:
    """China's provinces and regions as suggestions for a region field: `CN-JS` named 江苏省 or Jiangsu."""
    subdivisions = sorted(pycountry.subdivisions.get(country_code="CN") or [], key=lambda s: s.code)
    return [(s.code, i18n.region_name(s.code, language)) for s in subdivisions]


# --- applying -----------------------------------------------------------------------------------


def _apply_form(request: Request, party: Viewer, values: dict[str, str], errors_by_field: dict[str, str],
                status_code: int = 200) -> HTMLResponse:
    return render(request, "apply/form.html", party, translate(request, N_("Apply for an account")), {
        "values": values, "errors": errors_by_field, "regions": region_options(i18n.language_of(request))},
        status_code=status_code)


@router.get("/apply", response_class=HTMLResponse)
def apply_page(request: Request, party: Viewer) -> HTMLResponse:
    return _apply_form(request, party, {"kind": PartyKind.INDIVIDUAL.value, "region": ""}, {})


@router.post("/apply", response_class=HTMLResponse)
async def apply_submit(request: Request, db: DB, party: Viewer) -> Response:
    form = await checked_form(request)
    values = {name: text(form, name) for name in ("name", "kind", "region", "address", "phone", "email", "role",
                                                  "description", "consent")}
    details = applications.ApplicationDetails(
        values["name"], values["kind"], values["region"], values["address"], values["phone"], values["email"],
        values["role"], values["description"], values["consent"] == "yes")
    try:
        with db.write() as session:
            receipt = applications.submit_application(session, details)
            reference = receipt.application.public_id
    except errors.InvalidApplication as exc:
        return _apply_form(request, party, values, exc.problems, error_status(exc))
    response = redirect("/apply/submitted")
    hand_over_once(response, request, "/apply/submitted", f"{reference} {receipt.claim_code}")
    return response


@router.get("/apply/submitted", response_class=HTMLResponse)
def apply_submitted(request: Request, party: Viewer) -> HTMLResponse:
    handed = request.cookies.get(ONCE_COOKIE, "").split()
    reference, claim_code = handed if len(handed) == 2 else (None, None)
    response = render(request, "apply/submitted.html", party, translate(request, N_("Application received")),
                      {"reference": reference, "claim_code": claim_code})
    take_once(request, response)
    return response


# --- the decision and the key -------------------------------------------------------------------


def _status_form(request: Request, party: Viewer, reference: str, errors_by_field: dict[str, str],
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "apply/status_form.html", party, translate(request, N_("Your application")),
                  {"reference": reference, "errors": errors_by_field}, status_code=status_code)


def _refusal_field(exc: errors.RegistryError) -> str:
    """Which field of the reference-and-code form a refusal concerns ("_": the whole application)."""
    if isinstance(exc, errors.UnknownApplication):
        return "reference"
    if isinstance(exc, errors.ClaimCodeMismatch):
        return "claim_code"
    return "_"


@router.get("/apply/status", response_class=HTMLResponse)
def status_page(request: Request, party: Viewer,
                reference: Annotated[str | None, Query(max_length=60)] = None) -> HTMLResponse:
    return _status_form(request, party, reference or "", {})


@router.post("/apply/status", response_class=HTMLResponse)
async def status_lookup(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    """A lookup, not a change: the code travels in the form's body, never in an address."""
    form = await checked_form(request)
    reference, claim_code = text(form, "reference").strip(), text(form, "claim_code")
    try:
        with db.read() as session:
            found = applications.find_own_application(session, reference, claim_code)
            view = applications.applicant_view(found)
    except (errors.UnknownApplication, errors.ClaimCodeMismatch) as exc:
        return _status_form(request, party, reference, {_refusal_field(exc): exc.message}, error_status(exc))
    response = render(request, "apply/status.html", party, translate(request, N_("Your application")),
                      {"application": view, "claim_code": claim_code})
    response.headers["Cache-Control"] = "no-store"  # the page holds the claim code, for the claim button
    return response


@router.post("/apply/claim", response_class=HTMLResponse)
async def claim_submit(request: Request, db: DB, party: Viewer) -> Response:
    form = await checked_form(request)
    reference, claim_code = text(form, "reference").strip(), text(form, "claim_code")
    try:
        with db.write() as session:
            claimed = applications.claim_application(session, reference, claim_code)
    except (errors.UnknownApplication, errors.ClaimCodeMismatch, errors.ApplicationNotApproved,
            errors.ApplicationAlreadyClaimed) as exc:
        return _status_form(request, party, reference, {_refusal_field(exc): exc.message}, error_status(exc))
    response = redirect("/apply/key")
    hand_over_once(response, request, "/apply/key", claimed.api_key)
    try:
        with db.write() as session:
            token, _ = sign_in(session, claimed.api_key)
        set_session_cookie(response, request, token)
    except SignInRefused:
        pass  # suspended since its approval: the key is still the applicant's to keep; the page says so
    return response


@router.get("/apply/key", response_class=HTMLResponse)
def claimed_key(request: Request, party: Viewer) -> HTMLResponse:
    response = render(request, "apply/key.html", party, translate(request, N_("Your API key")),
                      {"api_key": request.cookies.get(ONCE_COOKIE)})
    take_once(request, response)
    return response


# --- the registrar ------------------------------------------------------------------------------


@router.get("/registrar/applications", response_class=HTMLResponse)
def registrar_applications(request: Request, db: DB, party: Viewer, cursor: Cursor = None) -> HTMLResponse:
    """Waiting ones first, oldest first; then the latest decisions."""
    registrar = require(party, request, Role.REGISTRAR)
    with db.read() as session:
        waiting = applications.list_applications(session, registrar, ApplicationStatus.SUBMITTED.value,
                                                 cursor or None, PAGE_SIZE)
        decided = applications.latest_decisions(session, registrar, RECENTLY_DECIDED)
    next_url = f"/registrar/applications?cursor={waiting.next_cursor}" if waiting.next_cursor else None
    return render(request, "registrar/applications.html", registrar, translate(request, N_("Applications")), {
        "waiting": waiting.items, "next_url": next_url, "decided": decided})


def _application_page(request: Request, db: DB, registrar: Party, application_id: str,
                      errors_by_field: dict[str, str], reason: str = "", status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        found = applications.application_out(session, applications.get_application(session, registrar,
                                                                                   application_id))
    return render(request, "registrar/application.html", registrar,
                  translate(request, N_("Application")) + " " + found.id,
                  {"application": found, "errors": errors_by_field, "reason": reason}, status_code=status_code)


@router.get("/registrar/applications/{application_id}", response_class=HTMLResponse)
def registrar_application(request: Request, application_id: str, db: DB, party: Viewer) -> HTMLResponse:
    registrar = require(party, request, Role.REGISTRAR)
    return _application_page(request, db, registrar, application_id, {})


@router.post("/registrar/applications/{application_id}/approval", response_class=HTMLResponse)
async def approve(request: Request, application_id: str, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    await checked_form(request)
    try:
        with db.write() as session:
            applications.approve_application(session, registrar,
                                             applications.get_application(session, registrar, application_id))
    except (errors.ApplicationAlreadyDecided, errors.InvalidRequest) as exc:
        return _application_page(request, db, registrar, application_id, {"_": exc.message},
                                 status_code=error_status(exc))
    return redirect(f"/registrar/applications/{application_id}")


@router.post("/registrar/applications/{application_id}/rejection", response_class=HTMLResponse)
async def reject(request: Request, application_id: str, db: DB, party: Viewer) -> Response:
    registrar = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    reason = text(form, "reason")
    try:
        with db.write() as session:
            applications.reject_application(session, registrar,
                                            applications.get_application(session, registrar, application_id), reason)
    except errors.ApplicationAlreadyDecided as exc:
        return _application_page(request, db, registrar, application_id, {"_": exc.message}, reason,
                                 error_status(exc))
    except errors.InvalidRequest as exc:
        return _application_page(request, db, registrar, application_id, {"reason": exc.message}, reason,
                                 error_status(exc))
    return redirect(f"/registrar/applications/{application_id}")
