"""Rendering pages: one Jinja2 environment per language, the signed-in party, CSRF-checked forms,
and error pages instead of problem JSON.

Templates escape everything by default. Routes pass plain data (the API's response models and
dicts) and the page's title; no rule of the registry lives in a template or here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.deps import DB
from api.problems import STATUS_BY_CATEGORY
from registry.db import Database
from registry.errors import RegistryError
from registry.models import Party, Role
from web import i18n
from web.i18n import N_
from web.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_ok,
    csrf_token,
    session_party,
    set_csrf_cookie,
)

log = logging.getLogger("cir.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str  # English, marked for translation with N_
    role: Role | None = None  # None: everyone sees it
    signed_in: bool = False


# The site's sections.
NAVIGATION = [
    NavItem("/", N_("Home")),
    NavItem("/projects", N_("Projects")),
    NavItem("/issuances", N_("Issuances")),
    NavItem("/retirements", N_("Retirements")),
    NavItem("/certificates", N_("Certificates")),
    NavItem("/market", N_("Market")),
    NavItem("/auctions", N_("Auctions")),
    NavItem("/verifiers", N_("Verifiers")),
    NavItem("/log", N_("Log")),
    NavItem("/verify", N_("Verify a proof")),
    NavItem("/workspace", N_("My credits"), signed_in=True),
    NavItem("/workspace/cash", N_("Cash"), signed_in=True),
    NavItem("/workspace/orders", N_("Orders"), signed_in=True),
    NavItem("/workspace/offers", N_("Offers"), signed_in=True),
    NavItem("/workspace/pledges", N_("Pledges"), signed_in=True),
    NavItem("/workspace/projects", N_("My projects"), Role.PROJECT_OWNER),
    NavItem("/workspace/net-zero", N_("Net zero"), Role.BUYER),
    NavItem("/verifier", N_("Verification"), Role.VERIFIER),
    NavItem("/registrar", N_("Registrar"), Role.REGISTRAR),
    NavItem("/bank", N_("Settlement bank"), Role.BANK),
]


def navigation(party: Party | None) -> list[NavItem]:
    roles = party.role_set if party else frozenset()
    return [item for item in NAVIGATION
            if (item.role is None or item.role.value in roles) and (party is not None or not item.signed_in)]


def current_section(items: list[NavItem], path: str) -> str | None:
    """The entry the page belongs to: the longest that is the path or a folder of it."""
    matching = [item.href for item in items
                if path == item.href or (item.href != "/" and path.startswith(item.href + "/"))]
    return max(matching, key=len, default=None)


def _tonnes(kg: object) -> object:
    return f"{kg / 1000:,.3f}" if isinstance(kg, int) else kg


def _yuan(fen: object) -> object:
    """Integer fen as yuan with two decimals: 123456 → 1,234.56 (integer arithmetic, no float)."""
    if not isinstance(fen, int):
        return fen
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _kg(kg: object) -> object:
    return f"{kg:,}" if isinstance(kg, int) else kg


@lru_cache
def environment(language: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["kg"] = _kg
    env.filters["tonnes"] = _tonnes
    env.filters["yuan"] = _yuan
    env.filters["urlquote"] = lambda text: quote(str(text), safe="")
    env.filters["day"] = lambda value: value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else value
    env.filters["minute"] = lambda value: value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else value
    env.globals["region_name"] = i18n.region_name
    env.globals["status_label"] = i18n.status_label
    return env


def translate(request: Request, message: str) -> str:
    """A message built in Python, in the request's language."""
    return i18n.translations(i18n.language_of(request)).gettext(message)


def _party_from_cookie(db: Database, token: str | None) -> Party | None:
    if not token:
        return None
    with db.read() as session:
        return session_party(session, token)


async def viewer(request: Request, db: DB) -> Party | None:
    """The signed-in party, or None for the public."""
    return _party_from_cookie(db, request.cookies.get(SESSION_COOKIE))


Viewer = Annotated[Party | None, Depends(viewer)]


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class RoleMissing(Exception):
    pass


class CsrfRefused(Exception):
    pass


def require(party: Party | None, request: Request, *roles: Role) -> Party:
    """The signed-in party with one of `roles` (any role if none given); else the sign-in page."""
    if party is None:
        raise SignInRequired(request.url.path)
    if roles and not party.role_set & {r.value for r in roles}:
        raise RoleMissing()
    return party


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token (field or header) matches the visitor's cookie."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
        raise CsrfRefused()
    return form


def check_csrf_header(request: Request) -> None:
    """For scripts that post JSON: the token comes in the `X-CSRF-Token` header."""
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise CsrfRefused()


def render(request: Request, template: str, party: Party | None, title: str,
           context: Mapping[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    language = i18n.language_of(request)
    items = navigation(party)
    body = environment(language).get_template(template).render(
        request=request, party=party, roles=party.role_set if party else frozenset(), title=title, lang=language,
        languages=i18n.LANGUAGES, csrf_token=csrf_token(request), path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        navigation=items, current_section=current_section(items, request.url.path), **(context or {}))
    response = HTMLResponse(body, status_code=status_code)
    set_csrf_cookie(response, request)
    return response


def redirect(url: str) -> RedirectResponse:
    """After a successful form: show the result page (POST, redirect, GET)."""
    return RedirectResponse(url, status_code=303)


def local_path(url: str | None, fallback: str = "/") -> str:
    """A redirect target from a form or query: only a path on this site, never another host."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return fallback
    return url


# What each refusal is called on a page; the service's own sentence follows it.
ERROR_TITLES = {
    "not-found": N_("Not found"),
    "permission-denied": N_("Not allowed"),
    "invalid-request": N_("The request cannot be accepted"),
    "conflict": N_("Not possible now"),
    "unknown-filter": N_("Unknown search filter"),
}


async def refusal_of(command: Callable[[Session], object], db: Database) -> RegistryError | None:
    """Run a page's command in its own write transaction, off the event loop; its refusal, if any
    (shown next to its field by the caller)."""
    def run() -> None:
        with db.write() as session:
            command(session)
    try:
        await run_in_threadpool(run)
    except RegistryError as exc:
        return exc
    return None


def error_status(exc: RegistryError) -> int:
    return next(code for cls, code in STATUS_BY_CATEGORY if isinstance(exc, cls))


def error_title(request: Request, status: int) -> str:
    key = {404: "not-found", 403: "permission-denied", 409: "conflict", 400: "unknown-filter"}.get(
        status, "invalid-request")
    return translate(request, ERROR_TITLES[key])


def error_page(request: Request, status: int, title: str, detail: str | None) -> HTMLResponse:
    party = _party_from_cookie(request.app.state.db, request.cookies.get(SESSION_COOKIE))
    return render(request, "error.html", party, title, {"detail": detail}, status_code=status)


class PageRoute(APIRoute):
    """A page answers a refusal with a page in the visitor's language, not with problem JSON: an
    unknown id, a missing role, a stale form, bad input in the address."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return redirect(f"/sign-in?next={quote(exc.next_url, safe='/')}")
            except RoleMissing:
                return error_page(request, 403, translate(request, N_("Not allowed")),
                                  translate(request, N_("Your party does not have the role this page is for.")))
            except CsrfRefused:
                return error_page(request, 403, translate(request, N_("The form has expired")),
                                  translate(request, N_("Reload the page and send the form again.")))
            except RegistryError as exc:
                status = error_status(exc)
                return error_page(request, status, error_title(request, status), exc.message)
            except RequestValidationError:
                return error_page(request, 422, translate(request, N_("The request cannot be accepted")),
                                  translate(request, N_("A value in the address is not valid.")))

        return page_handler
