"""Request dependencies: the database, the signer and the authenticated party."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthorized
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.models import Party
from registry.service import authenticate, hash_api_key

# A revoked key keeps working for at most this long in a worker that has seen it.
API_KEY_CACHE_SECONDS = 10.0
API_KEY_CACHE_SIZE = 10_000


class ApiKeyCache:
    """Recently authenticated keys, by hash: saves a database round trip on every request."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Party]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Party | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, party: Party) -> None:
        with self._lock:
            if len(self._entries) >= API_KEY_CACHE_SIZE:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + API_KEY_CACHE_SECONDS, party)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cir_…`")


# Dependencies are `async` where they do not block: FastAPI runs each sync dependency on the
# thread pool, a hop per dependency per request.


async def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


async def get_signer(request: Request) -> LogSigner:
    return request.app.state.signer  # type: ignore[no-any-return]


def _authenticate(db: Database, secret: str) -> Party | None:
    with db.read() as session:
        return authenticate(session, secret)


async def current_party(
    request: Request,
    db: Annotated[Database, Depends(get_db)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Party:
    if credentials is None:
        raise Unauthorized("send `Authorization: Bearer <api key>`")
    cache: ApiKeyCache = request.app.state.api_key_cache
    key_hash = hash_api_key(credentials.credentials)
    party = cache.get(key_hash)
    if party is None:
        party = await run_in_threadpool(_authenticate, db, credentials.credentials)
        if party is None:
            raise Unauthorized("the API key is unknown or revoked")
        cache.put(key_hash, party)
    return party


DB = Annotated[Database, Depends(get_db)]
Signer = Annotated[LogSigner, Depends(get_signer)]
Caller = Annotated[Party, Depends(current_party)]
