"""/docs (Swagger UI) and /redoc from the vendored bundles: the API's reference works offline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return render(request, "docs/swagger.html", None, "API")


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return render(request, "docs/redoc.html", None, "API")
