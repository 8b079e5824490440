"""Parties, API keys, accounts, balances, account history, projects and the registry's statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB, Blobs, Caller
from api.listing import CSV_RESPONSE, Cursor, Format, Limit, list_response
from registry import credits, parties, queries, schemas, stats
from registry.accounts import get_readable_account, open_account
from registry.models import BlockStatus, Party, PartyKind, PartyStatus, Project, ProjectStatus, Role, pk
from registry.projects import ProjectDetails, get_project
from verification.assets import AssetSpec, ExternalSpec
from verification.projects import DocumentSpec, change_project_status, register_project
from verification.schemas import ProjectRegistration

router = APIRouter(prefix="/api/v1")


# --- parties and keys -------------------------------------------------------------------------


@router.post("/parties", status_code=201, response_model=schemas.PartyOut, tags=["parties"],
             summary="Register a party (registrar)")
def create_party(body: schemas.PartyCreate, write: Write) -> Response:
    return write(body, _create_party, body)


def _create_party(s: Session, caller: Party, body: schemas.PartyCreate) -> schemas.PartyOut:
    return queries.party_out(parties.create_party(s, caller, body.name, body.kind, body.roles, body.region))


@router.get("/parties", response_model=schemas.Page[schemas.PartyOut], tags=["parties"],
            summary="Search the parties, with their status (registrar and auditors)")
def list_parties(
    db: DB, caller: Caller, q: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    role: Role | None = None, status: PartyStatus | None = None, kind: PartyKind | None = None,
    region: str | None = None, cursor: Cursor = None, limit: Limit = 50,
) -> schemas.Page[schemas.PartyOut]:
    filters = queries.PartyFilters(q, role.value if role else None, status.value if status else None,
                                   kind.value if kind else None, region)
    with db.read() as s:
        return queries.list_parties(s, caller, filters, cursor, limit)


@router.get("/parties/me", response_model=schemas.PartyOut, tags=["parties"], summary="The caller's party")
def me(caller: Caller) -> schemas.PartyOut:
    return queries.party_out(caller)


@router.get("/parties/{party_id}", response_model=schemas.PublicPartyOut, tags=["parties"],
            summary="A party's public profile: name, kind, roles, region and projects (public)",
            description="An individual's name shows its first character only. Accreditations: GET /api/v1/verifiers.")
def get_party(party_id: str, db: DB) -> schemas.PublicPartyOut:
    with db.read() as s:
        return queries.public_party_out(s, parties.get_party(s, party_id))


@router.post("/parties/{party_id}/suspension", status_code=200, response_model=schemas.PartyOut, tags=["parties"],
             summary="Suspend a party (registrar): its keys stop working until it is reactivated",
             description="Other API workers notice within 10 s (their key cache).")
def suspend_party(party_id: str, body: schemas.PartyStatusChange, write: Write, request: Request) -> Response:
    response = write(body, _set_party_status, party_id, PartyStatus.SUSPENDED, body.reason)
    request.app.state.api_key_cache.clear()
    return response


@router.post("/parties/{party_id}/reactivation", status_code=200, response_model=schemas.PartyOut, tags=["parties"],
             summary="Reactivate a suspended party (registrar)")
def reactivate_party(party_id: str, body: schemas.PartyStatusChange, write: Write, request: Request) -> Response:
    response = write(body, _set_party_status, party_id, PartyStatus.ACTIVE, body.reason)
    request.app.state.api_key_cache.clear()
    return response


def _set_party_status(s: Session, caller: Party, party_id: str, status: PartyStatus, reason: str) -> schemas.PartyOut:
    return queries.party_out(parties.set_party_status(s, caller, parties.get_party(s, party_id), status, reason))


@router.post("/parties/{party_id}/api-keys", status_code=201, response_model=schemas.ApiKeyOut, tags=["parties"],
             summary="Create an API key for a party (the party itself or the registrar); shown once")
def create_api_key(party_id: str, body: schemas.ApiKeyCreate, db: DB, caller: Caller) -> schemas.ApiKeyOut:
    # Not idempotent by design: a replay would have to store the secret.
    with db.write() as s:
        key, secret = parties.issue_api_key(s, caller, parties.get_party(s, party_id), body.label)
        return schemas.ApiKeyOut(prefix=key.prefix, label=key.label, api_key=secret)


@router.delete("/api-keys/{prefix}", status_code=204, tags=["parties"], summary="Revoke a key by its prefix")
def revoke_api_key(prefix: str, db: DB, caller: Caller, request: Request) -> Response:
    with db.write() as s:
        parties.revoke_api_key(s, caller, prefix)
    request.app.state.api_key_cache.clear()  # this worker at once; others within API_KEY_CACHE_SECONDS
    return Response(status_code=204)


# --- accounts ---------------------------------------------------------------------------------


@router.post("/accounts", status_code=201, response_model=schemas.AccountOut, tags=["accounts"],
             summary="Open a holding account")
def create_account(body: schemas.AccountCreate, write: Write) -> Response:
    return write(body, _open_account, body)


def _open_account(s: Session, caller: Party, body: schemas.AccountCreate) -> schemas.AccountOut:
    holder = parties.get_party(s, body.party) if body.party else None
    return queries.account_out(s, open_account(s, caller, body.name, holder))


@router.get("/accounts", response_model=schemas.Page[schemas.AccountOut], tags=["accounts"],
            summary="Accounts the caller may see (its own; all for registrars and auditors)")
def list_accounts(db: DB, caller: Caller, cursor: Cursor = None, limit: Limit = 50) -> schemas.Page[schemas.AccountOut]:
    with db.read() as s:
        return queries.list_accounts(s, caller, cursor, limit)


@router.get("/accounts/{account_id}", response_model=schemas.AccountOut, tags=["accounts"])
def get_account(account_id: str, db: DB, caller: Caller) -> schemas.AccountOut:
    with db.read() as s:
        return queries.account_out(s, get_readable_account(s, caller, account_id))


@router.get("/accounts/{account_id}/balances", response_model=list[schemas.Balance], tags=["accounts"],
            summary="Quantities by status, optionally grouped by project, vintage or methodology")
def balances(
    account_id: str, db: DB, caller: Caller,
    group_by: Annotated[str | None, Query(pattern="^(project|vintage|methodology)$")] = None,
) -> list[schemas.Balance]:
    with db.read() as s:
        account = get_readable_account(s, caller, account_id)
        return [schemas.Balance(**row) for row in credits.account_balances(s, pk(account), group_by)]


@router.get("/accounts/{account_id}/blocks", response_model=schemas.Page[schemas.BlockOut], tags=["accounts"],
            summary="The serial-numbered credit blocks an account holds")
def blocks(
    account_id: str, db: DB, caller: Caller, status: BlockStatus | None = None, cursor: Cursor = None,
    limit: Limit = 50,
) -> schemas.Page[schemas.BlockOut]:
    with db.read() as s:
        account = get_readable_account(s, caller, account_id)
        return queries.list_blocks(s, account, status.value if status else None, cursor, limit)


@router.get("/accounts/{account_id}/history", response_model=schemas.Page[schemas.HistoryLine], tags=["accounts"],
            summary="Every movement into and out of the account, oldest first (its holder, registrar, auditors)",
            description="Its retirements, with beneficiaries and proofs: GET /api/v1/retirements?account=….")
def history(account_id: str, db: DB, caller: Caller, cursor: Cursor = None,
            limit: Limit = 50) -> schemas.Page[schemas.HistoryLine]:
    with db.read() as s:
        return queries.account_history(s, get_readable_account(s, caller, account_id), cursor, limit)


# --- projects ---------------------------------------------------------------------------------


@router.post("/projects", status_code=201, response_model=schemas.ProjectOut, tags=["projects"],
             summary="Create a project (draft) with its assets, as its owner or for an owner as registrar",
             description="Each meter, charger or parcel must be free of every active project, in every region; "
                         "a refusal names the project that holds it.")
def create_project(body: ProjectRegistration, write: Write, blobs: Blobs) -> Response:
    documents = [DocumentSpec(d.title, d.filename, d.sha256, blobs.path(d.sha256).stat().st_size, d.kind)
                 for d in body.documents]
    return write(body, _register_project, body, documents)


def _register_project(s: Session, caller: Party, body: ProjectRegistration,
                      documents: list[DocumentSpec]) -> schemas.ProjectOut:
    owner = parties.get_party(s, body.owner) if body.owner else None
    details = ProjectDetails(**body.model_dump(exclude={"owner", "assets", "external_registrations", "documents"}))
    assets = [AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in body.assets]
    external = [ExternalSpec(e.scheme, e.identifier) for e in body.external_registrations]
    return queries.project_out(s, register_project(s, caller, details, assets, owner, external, documents))


@router.get("/projects", response_model=schemas.Page[schemas.ProjectOut], responses=CSV_RESPONSE, tags=["projects"],
            summary="Search the public project registry; ?format=csv exports every match")
def list_projects(
    request: Request, db: DB, methodology_id: str | None = None, region: str | None = None,
    status: ProjectStatus | None = None, owner: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name or location, any case")] = None,
    cursor: Cursor = None, limit: Limit = 50, format: Format = None,
) -> Response:
    query = queries.projects_query(queries.ProjectFilters(methodology_id, region, status.value if status else None,
                                                          owner, q))
    return list_response(request, db, query, col(Project.id), queries.project_row_out, schemas.ProjectOut, cursor,
                         limit, format, "projects.csv")


@router.get("/projects/{project_id}", response_model=schemas.ProjectOut, tags=["projects"])
def read_project(project_id: str, db: DB) -> schemas.ProjectOut:
    with db.read() as s:
        return queries.project_out(s, get_project(s, project_id))


@router.post("/projects/{project_id}/status", status_code=200, response_model=schemas.ProjectOut, tags=["projects"],
             summary="Move a project through its lifecycle (owner: submit/withdraw; registrar or an "
                     "accredited verifier: validate; registrar: suspend/complete)",
             description="Registering needs a validation report filed first (POST …/documents, kind "
                         "validation_report). A refused move names the statuses you may move the project to.")
def change_status(project_id: str, body: schemas.ProjectStatusChange, write: Write) -> Response:
    return write(body, _change_status, project_id, body)


def _change_status(s: Session, caller: Party, project_id: str, body: schemas.ProjectStatusChange) -> schemas.ProjectOut:
    project = change_project_status(s, caller, get_project(s, project_id), body.status, body.note)
    return queries.project_out(s, project)


# --- statistics -------------------------------------------------------------------------------


@router.get("/stats", response_model=schemas.StatsOut, tags=["registry"],
            summary="Issued, retired, cancelled, held and buffer pool, by methodology, region, vintage and month "
                    "(public)", description="Cross-regional retirements (by a party in another region than the "
                                            "credits') are counted apart.")
def registry_stats(db: DB) -> schemas.StatsOut:
    with db.read() as s:
        return stats.registry_stats(s)
