"""Runs one write command in one transaction, with `Idempotency-Key` replay and deadlock retry.

A write route takes a `Write` and hands it the request body and a named command function:

    def create_party(body: PartyCreate, write: Write) -> Response:
        return write(body, _create_party, body)

The command is called as `command(session, caller, *args)` inside the transaction and returns
the response model. The response's status is the route's own `status_code`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Concatenate, ParamSpec

import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from api.deps import DB, Caller
from api.idempotency import claim_key, find_response, request_fingerprint, store_response
from registry.db import Database
from registry.ledger.entries import canonical_json
from registry.models import Party, pk

# PostgreSQL deadlock_detected and serialization_failure: the command did nothing and may rerun.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3

P = ParamSpec("P")


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


class Writer:
    def __init__(self, db: Database, request: Request, caller: Party) -> None:
        self.db, self.request, self.caller = db, request, caller
        route = request.scope.get("route")
        self.status_code = route.status_code if isinstance(route, APIRoute) and route.status_code else 200

    def __call__(self, payload: BaseModel | None, command: Callable[Concatenate[Session, Party, P], BaseModel],
                 *args: P.args, **kwargs: P.kwargs) -> Response:
        key = self.request.headers.get("Idempotency-Key")
        fingerprint = ""
        if key is not None:
            body = canonical_json(payload.model_dump(mode="json")) if payload is not None else b""
            fingerprint = request_fingerprint(self.request.method, self.request.url.path, body)
        party_id = pk(self.caller)
        for attempt in range(ATTEMPTS):
            try:
                with self.db.write() as session:
                    record_id = None
                    if key is not None:
                        stored = find_response(session, party_id, key, fingerprint)
                        if stored is None:
                            record_id = claim_key(session, party_id, key, fingerprint)
                            if record_id is None:  # a concurrent request with this key won; replay it
                                stored = find_response(session, party_id, key, fingerprint)
                        if stored is not None:
                            return Response(stored[1], stored[0], media_type="application/json",
                                            headers={"Idempotent-Replayed": "true"})
                    result = orjson.dumps(command(session, self.caller, *args, **kwargs).model_dump(mode="json"))
                    if record_id is not None:
                        store_response(session, record_id, self.status_code, result)
                return Response(result, self.status_code, media_type="application/json")
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


async def get_writer(request: Request, db: DB, caller: Caller) -> Writer:
    return Writer(db, request, caller)


Write = Annotated[Writer, Depends(get_writer)]
