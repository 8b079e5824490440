"""Signing in with an API key (typed, pasted or read from a key file) and signing out.

The key is exchanged once for a session cookie and never shown or stored again; see
`web.sessions` for the cookie's and the CSRF token's rules.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import DB
from registry.models import Role
from web.i18n import N_
from web.pages import PageRoute, Viewer, checked_form, local_path, redirect, render, translate
from web.sessions import SESSION_COOKIE, SignInRefused, set_session_cookie, sign_in, sign_out

router = APIRouter(route_class=PageRoute, include_in_schema=False)

KEY_PATTERN = re.compile(r"cir_[A-Za-z0-9_-]{20,}")
MAX_KEY_FILE_BYTES = 64 * 1024


def _start_page(roles: frozenset[str]) -> str:
    """Where a party lands after signing in: the workspace of its main role."""
    for role, page in ((Role.REGISTRAR, "/registrar"), (Role.VERIFIER, "/verifier"),
                       (Role.PROJECT_OWNER, "/workspace/projects")):
        if role.value in roles:
            return page
    return "/workspace"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, party: Viewer,
                 next: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    return render(request, "account/sign_in.html", party, translate(request, N_("Sign in")),
                  {"next": local_path(next, ""), "errors": {}})


async def _key_from(form_key: object, key_file: object) -> str | None:
    """The key typed in the form, else the one key found in the uploaded file."""
    if isinstance(form_key, str) and form_key.strip():
        return form_key.strip()
    if isinstance(key_file, UploadFile) and key_file.filename:
        content = (await key_file.read(MAX_KEY_FILE_BYTES + 1))[:MAX_KEY_FILE_BYTES].decode("utf-8", "replace")
        found = set(KEY_PATTERN.findall(content))
        return found.pop() if len(found) == 1 else ""
    return None


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request, db: DB) -> Response:
    form = await checked_form(request)
    next_page = local_path(str(form.get("next") or ""), "")
    api_key = await _key_from(form.get("api_key"), form.get("key_file"))
    errors: dict[str, str] = {}
    if api_key is None:
        errors["api_key"] = translate(request, N_("Enter your API key, or choose the file that holds it."))
    elif api_key == "":
        errors["key_file"] = translate(request, N_("That file does not hold exactly one API key."))
    else:
        try:
            with db.write() as session:
                token, party = sign_in(session, api_key)
                roles = party.role_set
        except SignInRefused as exc:
            suspended = str(exc).startswith("suspended")
            errors["api_key"] = translate(request, N_("Your party is suspended by the registrar.") if suspended
                                          else N_("That key is unknown or has been revoked."))
    if errors:
        return render(request, "account/sign_in.html", None, translate(request, N_("Sign in")),
                      {"next": next_page, "errors": errors}, status_code=400)
    response = redirect(next_page or _start_page(roles))
    set_session_cookie(response, request, token)
    return response


@router.post("/sign-out")
async def sign_out_submit(request: Request, db: DB) -> RedirectResponse:
    await checked_form(request)
    with db.write() as session:
        sign_out(session, request.cookies.get(SESSION_COOKIE))
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
