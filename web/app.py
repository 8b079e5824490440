"""The pages, mounted on the API's own app: same process, same services, same database."""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from web.i18n import N_
from web.pages import error_page, translate
from web.routes import (
    applications,
    auctions,
    docs,
    exchange,
    market,
    netzero,
    proofs,
    public,
    registrar,
    sign_in,
    signing,
    verifier,
    workspace,
)
from web.security import SecurityHeaders

PAGE_ROUTERS = [module.router for module in
                (public, sign_in, docs, proofs, workspace, verifier, signing, applications, registrar, netzero, market,
                 exchange, auctions)]

STATIC = Path(__file__).resolve().parent / "static"


def install_web(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    problem_handler = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        """An address no route knows: a page for a browser, problem details for the API and scripts."""
        if request.url.path.startswith(("/api/", "/static/")) or "text/html" not in request.headers.get("accept", ""):
            answer = problem_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return error_page(request, 404, translate(request, N_("Not found")),
                          translate(request, N_("There is no page at this address.")))

    app.add_exception_handler(404, not_found)
    for router in PAGE_ROUTERS:
        app.include_router(router)
