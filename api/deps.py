"""Request dependencies: the database, the signer and the authenticated party."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthorized
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.models import Party
from registry.service import authenticate

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cir_…`")


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_signer(request: Request) -> LogSigner:
    return request.app.state.signer  # type: ignore[no-any-return]


def current_party(
    db: Annotated[Database, Depends(get_db)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Party:
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <api key>`")
    with db.read() as session:
        party = authenticate(session, credentials.credentials)
    if party is None:
        raise Unauthorized("the API key is unknown or revoked")
    return party


DB = Annotated[Database, Depends(get_db)]
Signer = Annotated[LogSigner, Depends(get_signer)]
Caller = Annotated[Party, Depends(current_party)]
