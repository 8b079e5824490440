"""Checking a proof in the visitor's own browser, with nothing uploaded: the auditor's page.

The page only carries the form and the sentences; `web/static/js/verify.js` reads the chosen
files in the page and checks them with WebCrypto, exactly as `registry/ledger/verify.py`
(`cir verify-proof`) does. The server never sees the bundle, and the answer does not depend on it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.i18n import N_
from web.pages import PageRoute, Viewer, render, translate

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, party: Viewer) -> HTMLResponse:
    return render(request, "public/verify.html", party, translate(request, N_("Verify a proof")))
