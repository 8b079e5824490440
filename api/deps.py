"""Request dependencies: the database, the signer and the authenticated party."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Unauthorized
from registry.db import Database
from registry.errors import PartySuspended, UnknownFilter
from registry.ledger.signing import LogSigner
from registry.models import Party, PartyStatus
from registry.parties import authenticate, hash_api_key
from registry.settings import Settings
from verification.blobs import BlobStore

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
    db: Database = request.app.state.db
    return db


async def get_signer(request: Request) -> LogSigner:
    signer: LogSigner = request.app.state.signer
    return signer


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


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
    if party.status != PartyStatus.ACTIVE:
        raise PartySuspended(f"your party is suspended by the registrar: {party.status_reason}")
    return party


DB = Annotated[Database, Depends(get_db)]
Signer = Annotated[LogSigner, Depends(get_signer)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Blobs = Annotated[BlobStore, Depends(get_blobs)]
Caller = Annotated[Party, Depends(current_party)]


_KNOWN_QUERY_PARAMETERS: dict[int, frozenset[str]] = {}


async def reject_unknown_query_parameters(request: Request) -> None:
    """A query parameter the route does not take is a 400, never silently ignored: `?project=` on
    a list that cannot filter by project would otherwise answer with everything."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _KNOWN_QUERY_PARAMETERS.get(id(route))
    if known is None:
        known = frozenset(_query_parameters(route.dependant))
        _KNOWN_QUERY_PARAMETERS[id(route)] = known
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise UnknownFilter(f"unknown query parameter {', '.join(unknown)}: this takes {takes}")


def _query_parameters(dependant: Dependant) -> set[str]:
    names = {parameter.alias for parameter in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameters(dependency)
    return names
