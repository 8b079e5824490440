"""Signing in with an API key, the session cookie it earns, and CSRF tokens for every form.

- The session cookie (`cir_session`) is HttpOnly, SameSite=Lax, and Secure when the page came over
  HTTPS; it holds 256 random bits, of which only the SHA-256 is stored. Signing out deletes it.
- Forms carry a CSRF token equal to the `cir_csrf` cookie (HttpOnly, SameSite=Strict), set on the
  first visit: a page of another site can neither read that cookie nor make the browser send it,
  so it cannot produce a matching pair (the double-submit pattern). Scripts send it as
  `X-CSRF-Token`, read from the page's `<meta name="csrf-token">`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.responses import Response

from registry.models import Party, PartyStatus, pk
from registry.parties import authenticate
from web.models import WebSession

SESSION_COOKIE = "cir_session"
CSRF_COOKIE = "cir_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 12


class SignInRefused(Exception):
    """The key is unknown or revoked, or its party is suspended."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, api_key: str) -> tuple[str, Party]:
    """Exchange a live key of an active party for a new session token."""
    party = authenticate(session, api_key.strip())
    if party is None:
        raise SignInRefused("unknown or revoked key")
    if party.status != PartyStatus.ACTIVE:
        raise SignInRefused(f"suspended: {party.status_reason}")
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_hash(token), party_id=pk(party),
                           expires_at=datetime.now(UTC) + timedelta(hours=SESSION_HOURS)))
    return token, party


def session_party(session: Session, token: str | None) -> Party | None:
    """The active party behind a live session token, if any."""
    if not token:
        return None
    row = session.execute(
        select(Party).join(WebSession, col(WebSession.party_id) == col(Party.id))
        .where(col(WebSession.token_hash) == _hash(token), col(WebSession.expires_at) > datetime.now(UTC))
    ).scalar_one_or_none()
    return row if row is not None and row.status == PartyStatus.ACTIVE else None


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token: the cookie's, or a new one the response will set."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))


def set_csrf_cookie(response: Response, request: Request) -> None:
    token = getattr(request.state, "new_csrf", None)
    if token is not None:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
