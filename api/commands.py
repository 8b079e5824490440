"""Runs one write command in one transaction, with `Idempotency-Key` replay and deadlock retry."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import rfc8785
from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from api.idempotency import claim_key, find_response, request_fingerprint, store_response
from registry.db import Database
from registry.models import Party

# PostgreSQL deadlock_detected and serialization_failure: the command did nothing and may rerun.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def run_command(
    db: Database,
    request: Request,
    caller: Party,
    payload: BaseModel | None,
    command: Callable[[Session], BaseModel],
    status_code: int = 201,
) -> Response:
    key = request.headers.get("Idempotency-Key")
    fingerprint = ""
    if key is not None:
        body = rfc8785.dumps(payload.model_dump(mode="json")) if payload is not None else b""
        fingerprint = request_fingerprint(request.method, request.url.path, body)
    for attempt in range(ATTEMPTS):
        try:
            with db.write() as session:
                record_id = None
                if key is not None:
                    stored = find_response(session, caller.id, key, fingerprint)  # type: ignore[arg-type]
                    if stored is None:
                        record_id = claim_key(session, caller.id, key, fingerprint)  # type: ignore[arg-type]
                        if record_id is None:  # a concurrent request with this key won; replay it
                            stored = find_response(session, caller.id, key, fingerprint)  # type: ignore[arg-type]
                    if stored is not None:
                        return Response(stored[1], stored[0], media_type="application/json",
                                        headers={"Idempotent-Replayed": "true"})
                result = orjson.dumps(command(session).model_dump(mode="json"))
                if record_id is not None:
                    store_response(session, record_id, status_code, result)
            return Response(result, status_code, media_type="application/json")
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
