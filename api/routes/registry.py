"""Parties, API keys, accounts, balances and projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.commands import run_command
from api.deps import DB, Caller
from registry import credits, queries, schemas, service
from registry.models import BlockStatus, ProjectStatus, Role
from verification import service as vservice
from verification.schemas import ProjectRegistration

router = APIRouter(prefix="/api/v1")

Cursor = Annotated[str | None, Query(description="From `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]


@router.post("/parties", status_code=201, response_model=schemas.PartyOut, tags=["parties"],
             summary="Register a party (registrar)")
def create_party(body: schemas.PartyCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        service.require_role(caller, Role.REGISTRAR)
        return queries.party_out(service.create_party(s, body.name, body.kind, body.roles))
    return run_command(db, request, caller, body, command)


@router.get("/parties/me", response_model=schemas.PartyOut, tags=["parties"], summary="The caller's party")
def me(caller: Caller) -> schemas.PartyOut:
    return queries.party_out(caller)


@router.get("/parties/{party_id}", response_model=schemas.PartyOut, tags=["parties"])
def get_party(party_id: str, db: DB, caller: Caller) -> schemas.PartyOut:
    with db.read() as s:
        return queries.party_out(service.get_party(s, party_id))


@router.post("/parties/{party_id}/api-keys", status_code=201, response_model=schemas.ApiKeyOut, tags=["parties"],
             summary="Create an API key for a party (the party itself or the registrar); shown once")
def create_api_key(party_id: str, body: schemas.ApiKeyCreate, db: DB, caller: Caller) -> schemas.ApiKeyOut:
    # Not idempotent by design: a replay would have to store the secret.
    with db.write() as s:
        party = service.get_party(s, party_id)
        if party.id != caller.id:
            service.require_role(caller, Role.REGISTRAR)
        key, secret = service.issue_api_key(s, party, body.label)
        return schemas.ApiKeyOut(prefix=key.prefix, label=key.label, api_key=secret)


@router.delete("/api-keys/{prefix}", status_code=204, tags=["parties"], summary="Revoke a key by its prefix")
def revoke_api_key(prefix: str, db: DB, caller: Caller, request: Request) -> Response:
    with db.write() as s:
        service.revoke_api_key(s, caller, prefix)
    request.app.state.api_key_cache.clear()  # this worker at once; others within API_KEY_CACHE_SECONDS
    return Response(status_code=204)


@router.post("/accounts", status_code=201, response_model=schemas.AccountOut, tags=["accounts"],
             summary="Open a holding account")
def open_account(body: schemas.AccountCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        holder = service.get_party(s, body.party) if body.party else None
        return queries.account_out(s, service.open_account(s, caller, body.name, holder))
    return run_command(db, request, caller, body, command)


@router.get("/accounts", response_model=schemas.Page[schemas.AccountOut], tags=["accounts"],
            summary="Accounts the caller may see (its own; all for registrars and auditors)")
def list_accounts(db: DB, caller: Caller, cursor: Cursor = None, limit: Limit = 50) -> schemas.Page[schemas.AccountOut]:
    with db.read() as s:
        return queries.list_accounts(s, caller, cursor, limit)


@router.get("/accounts/{account_id}", response_model=schemas.AccountOut, tags=["accounts"])
def get_account(account_id: str, db: DB, caller: Caller) -> schemas.AccountOut:
    with db.read() as s:
        return queries.account_out(s, queries.readable_account(s, caller, account_id))


@router.get("/accounts/{account_id}/balances", response_model=list[schemas.Balance], tags=["accounts"],
            summary="Quantities by status, optionally grouped by project, vintage or methodology")
def balances(
    account_id: str, db: DB, caller: Caller,
    group_by: Annotated[str | None, Query(pattern="^(project|vintage|methodology)$")] = None,
) -> list[schemas.Balance]:
    with db.read() as s:
        account = queries.readable_account(s, caller, account_id)
        rows = credits.account_balances(s, account.id, group_by)  # type: ignore[arg-type]
        return [schemas.Balance(**row) for row in rows]


@router.get("/accounts/{account_id}/blocks", response_model=schemas.Page[schemas.BlockOut], tags=["accounts"],
            summary="The serial-numbered credit blocks an account holds")
def blocks(
    account_id: str, db: DB, caller: Caller, status: BlockStatus | None = None, cursor: Cursor = None,
    limit: Limit = 50,
) -> schemas.Page[schemas.BlockOut]:
    with db.read() as s:
        account = queries.readable_account(s, caller, account_id)
        return queries.list_blocks(s, account, status.value if status else None, cursor, limit)


@router.post("/projects", status_code=201, response_model=schemas.ProjectOut, tags=["projects"],
             summary="Create a project (draft) with its assets, as its owner or for an owner as registrar",
             description="Each meter, charger or parcel must be free of every active project, in every region; "
                         "a refusal names the project that holds it.")
def create_project(body: ProjectRegistration, db: DB, caller: Caller, request: Request) -> Response:
    blobs = request.app.state.blobs
    documents = [vservice.DocumentSpec(d.title, d.filename, d.sha256, blobs.path(d.sha256).stat().st_size)
                 for d in body.documents]

    def command(s):  # type: ignore[no-untyped-def]
        owner = service.get_party(s, body.owner) if body.owner else None
        details = service.ProjectDetails(
            **body.model_dump(exclude={"owner", "assets", "external_registrations", "documents"}))
        assets = [vservice.AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in body.assets]
        external = [vservice.ExternalSpec(e.scheme, e.identifier) for e in body.external_registrations]
        project = vservice.register_project(s, caller, details, assets, owner, external, documents)
        return queries.project_out(s, project)
    return run_command(db, request, caller, body, command)


@router.get("/projects", response_model=schemas.Page[schemas.ProjectOut], tags=["projects"],
            summary="Search the public project registry")
def list_projects(
    db: DB, region: str | None = None, methodology_id: str | None = None, status: ProjectStatus | None = None,
    owner: str | None = None, cursor: Cursor = None, limit: Limit = 50,
) -> schemas.Page[schemas.ProjectOut]:
    filters = {"region": region, "methodology_id": methodology_id, "status": status.value if status else None,
               "owner": owner}
    with db.read() as s:
        return queries.list_projects(s, filters, cursor, limit)


@router.get("/projects/{project_id}", response_model=schemas.ProjectOut, tags=["projects"])
def get_project(project_id: str, db: DB) -> schemas.ProjectOut:
    with db.read() as s:
        return queries.project_out(s, service.get_project(s, project_id))


@router.post("/projects/{project_id}/status", response_model=schemas.ProjectOut, tags=["projects"],
             summary="Move a project through its lifecycle (owner: submit/withdraw; registrar or an "
                     "accredited verifier: validate; registrar: suspend/complete)")
def change_status(project_id: str, body: schemas.ProjectStatusChange, db: DB, caller: Caller,
                  request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        project = service.get_project(s, project_id)
        return queries.project_out(s, vservice.change_project_status(s, caller, project, body.status, body.note))
    return run_command(db, request, caller, body, command, status_code=200)
