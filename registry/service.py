"""Parties, API keys, accounts and projects: who may hold credits and where credits come from."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from registry import errors
from registry.ids import new_public_id
from registry.models import (
    Account,
    AccountKind,
    ApiKey,
    Party,
    PartyKind,
    Project,
    ProjectStatus,
    Role,
    table,
)

API_KEY_PREFIX = "cir_"

BUFFER_POOL_ACCOUNT = "acct_buffer_pool"
RETIREMENT_ACCOUNT = "acct_retirement"
CANCELLATION_ACCOUNT = "acct_cancellation"


def require_role(party: Party, *roles: Role) -> None:
    if not party.role_set & {r.value for r in roles}:
        names = " or ".join(r.value for r in roles)
        raise errors.RoleRequired(f"this action needs the {names} role")


# --- parties and keys -------------------------------------------------------------------------


def create_party(session: Session, name: str, kind: PartyKind, roles: Iterable[Role]) -> Party:
    role_values = sorted({Role(r).value for r in roles})
    if not role_values:
        raise errors.InvalidRequest("a party needs at least one role")
    if not name.strip():
        raise errors.InvalidRequest("a party needs a name")
    party = Party(public_id=new_public_id("pty"), name=name.strip(), kind=PartyKind(kind).value,
                  roles=" ".join(role_values))
    session.add(party)
    session.flush()
    return party


def get_party(session: Session, public_id: str) -> Party:
    party = session.execute(select(Party).where(col(Party.public_id) == public_id)).scalar_one_or_none()
    if party is None:
        raise errors.UnknownParty(f"no party {public_id}")
    return party


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(session: Session, party: Party, label: str = "") -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and only its hash is stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey(party_id=party.id, key_hash=hash_api_key(secret), prefix=secret[:12], label=label)  # type: ignore[arg-type]
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, secret: str) -> Party | None:
    if not secret.startswith(API_KEY_PREFIX):
        return None
    row = session.execute(
        select(Party)
        .join(ApiKey, col(ApiKey.party_id) == col(Party.id))
        .where(col(ApiKey.key_hash) == hash_api_key(secret), col(ApiKey.revoked_at).is_(None))
    ).scalar_one_or_none()
    return row


def revoke_api_key(session: Session, actor: Party, prefix: str) -> None:
    query = update(ApiKey).where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None))
    if Role.REGISTRAR.value not in actor.role_set:
        query = query.where(col(ApiKey.party_id) == actor.id)
    result = session.execute(query.values(revoked_at=datetime.now(UTC)))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.NotFound(f"no active key {prefix} that you may revoke")


@dataclass(frozen=True)
class Bootstrap:
    party: Party
    api_key: str


def bootstrap_registrar(session: Session, name: str) -> Bootstrap:
    """The first registrar and its key. Refused once any registrar exists."""
    existing = session.execute(select(Party).where(col(Party.roles).contains(Role.REGISTRAR.value))).first()
    if existing is not None:
        raise errors.Conflict("a registrar already exists; ask it for a key instead")
    party = create_party(session, name, PartyKind.ORGANISATION, [Role.REGISTRAR, Role.AUDITOR])
    _, secret = issue_api_key(session, party, label="bootstrap")
    return Bootstrap(party, secret)


# --- accounts ---------------------------------------------------------------------------------


def open_account(session: Session, actor: Party, name: str, holder: Party | None = None) -> Account:
    """A holding account for `holder` (default: the actor). Only a registrar opens one for another."""
    holder = holder or actor
    if holder.id != actor.id:
        require_role(actor, Role.REGISTRAR)
    if not name.strip():
        raise errors.InvalidRequest("an account needs a name")
    account = Account(public_id=new_public_id("acct"), party_id=holder.id, kind=AccountKind.HOLDING.value,
                      name=name.strip())
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, public_id: str) -> Account:
    account = session.execute(select(Account).where(col(Account.public_id) == public_id)).scalar_one_or_none()
    if account is None:
        raise errors.UnknownAccount(f"no account {public_id}")
    return account


class AccountRef(Protocol):
    """What commands need of an account: an `Account` or a row of `_ACCOUNT_REFS`."""

    id: int
    public_id: str
    party_id: int | None
    kind: str


_ACCOUNTS = table(Account)
_ACCOUNT_REFS = select(_ACCOUNTS.c.id, _ACCOUNTS.c.public_id, _ACCOUNTS.c.party_id, _ACCOUNTS.c.kind).where(
    _ACCOUNTS.c.public_id.in_(bindparam("public_ids", expanding=True))
)


def get_accounts(session: Session, public_ids: Iterable[str]) -> dict[str, AccountRef]:
    """Several accounts in one query, keyed by public id; raises for any that is unknown."""
    wanted = set(public_ids)
    rows = session.connection().execute(_ACCOUNT_REFS, {"public_ids": sorted(wanted)}).all()
    found: dict[str, AccountRef] = {a.public_id: a for a in rows}  # type: ignore[misc]
    for public_id in sorted(wanted - found.keys()):
        raise errors.UnknownAccount(f"no account {public_id}")
    return found


def require_holder(actor: Party, account: AccountRef) -> None:
    if account.party_id != actor.id:
        raise errors.NotAccountHolder(f"account {account.public_id} is not yours")


def sees_every_account(actor: Party) -> bool:
    return bool(actor.role_set & {Role.REGISTRAR.value, Role.AUDITOR.value})


def readable_accounts_query(actor: Party):  # type: ignore[no-untyped-def]
    """Accounts the actor may see: all for registrars and auditors, else its own."""
    query = select(Account)
    if not sees_every_account(actor):
        query = query.where(col(Account.party_id) == actor.id)
    return query


# --- projects ---------------------------------------------------------------------------------

# Who may move a project from one status to the next. Validation itself (issue 4) adds verifiers.
OWNER_TRANSITIONS: dict[str, set[str]] = {
    ProjectStatus.DRAFT: {ProjectStatus.SUBMITTED, ProjectStatus.WITHDRAWN},
    ProjectStatus.CHANGES_REQUESTED: {ProjectStatus.SUBMITTED, ProjectStatus.WITHDRAWN},
    ProjectStatus.SUBMITTED: {ProjectStatus.WITHDRAWN},
    ProjectStatus.REGISTERED: {ProjectStatus.WITHDRAWN},
}
REGISTRAR_TRANSITIONS: dict[str, set[str]] = {
    ProjectStatus.SUBMITTED: {ProjectStatus.UNDER_VALIDATION},
    ProjectStatus.UNDER_VALIDATION: {
        ProjectStatus.CHANGES_REQUESTED,
        ProjectStatus.REGISTERED,
        ProjectStatus.REJECTED,
    },
    ProjectStatus.REGISTERED: {ProjectStatus.SUSPENDED, ProjectStatus.COMPLETED},
    ProjectStatus.SUSPENDED: {ProjectStatus.REGISTERED, ProjectStatus.WITHDRAWN},
}


@dataclass(frozen=True)
class ProjectDetails:
    name: str
    methodology_id: str
    methodology_version: str
    region: str
    location: str
    latitude: float | None = None
    longitude: float | None = None
    capacity: float | None = None
    capacity_unit: str | None = None
    crediting_period_start: date | None = None
    crediting_period_end: date | None = None


def create_project(session: Session, actor: Party, details: ProjectDetails, owner: Party | None = None) -> Project:
    owner = owner or actor
    if owner.id != actor.id:
        require_role(actor, Role.REGISTRAR)
    require_role(owner, Role.PROJECT_OWNER)
    project = Project(public_id=new_public_id("prj"), owner_party_id=owner.id,  # type: ignore[arg-type]
                      status=ProjectStatus.DRAFT.value, **details.__dict__)
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, public_id: str) -> Project:
    project = session.execute(select(Project).where(col(Project.public_id) == public_id)).scalar_one_or_none()
    if project is None:
        raise errors.UnknownProject(f"no project {public_id}")
    return project


# Validation steps an accredited, independent verifier may take as well as the registrar.
VALIDATOR_TRANSITIONS: dict[str, set[str]] = {
    ProjectStatus.SUBMITTED: {ProjectStatus.UNDER_VALIDATION},
    ProjectStatus.UNDER_VALIDATION: {
        ProjectStatus.CHANGES_REQUESTED,
        ProjectStatus.REGISTERED,
        ProjectStatus.REJECTED,
    },
}


def change_project_status(
    session: Session, actor: Party, project: Project, new_status: ProjectStatus, validator: bool = False
) -> Project:
    """Only one of two racing changes wins: the update is conditional on the status it read.

    `validator` is set by the verification workflow once it has checked that the actor is an
    accredited verifier in scope and without a conflict of interest.
    """
    current = project.status
    allowed: set[str] = set()
    if project.owner_party_id == actor.id:
        allowed |= OWNER_TRANSITIONS.get(current, set())
    if Role.REGISTRAR.value in actor.role_set:
        allowed |= REGISTRAR_TRANSITIONS.get(current, set())
    if validator:
        allowed |= VALIDATOR_TRANSITIONS.get(current, set())
    if new_status.value not in allowed:
        raise errors.InvalidProjectTransition(
            f"you cannot move project {project.public_id} from {current} to {new_status.value}"
        )
    result = session.execute(
        update(Project)
        .where(col(Project.id) == project.id, col(Project.status) == current)
        .values(status=new_status.value)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.InvalidProjectTransition(f"project {project.public_id} changed status meanwhile; reload")
    project.status = new_status.value
    return project
