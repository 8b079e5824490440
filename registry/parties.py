"""Parties and their API keys: who may act in the registry, and with which roles."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlmodel import Session, col

from registry import errors
from registry.ids import new_public_id
from registry.models import ApiKey, Party, PartyKind, PartyStatus, Role, get_by_public_id, pk, rows_changed
from registry.regions import check_region

API_KEY_PREFIX = "cir_"


def require_role(party: Party, *roles: Role) -> None:
    if not party.role_set & {r.value for r in roles}:
        names = " or ".join(r.value for r in roles)
        raise errors.RoleRequired(f"this action needs the {names} role")


def _insert_party(session: Session, name: str, kind: PartyKind, roles: Iterable[Role],
                  region: str | None = None) -> Party:
    role_values = sorted({Role(r).value for r in roles})
    if not role_values:
        raise errors.InvalidRequest("a party needs at least one role")
    if not name.strip():
        raise errors.InvalidRequest("a party needs a name")
    party = Party(public_id=new_public_id("pty"), name=name.strip(), kind=PartyKind(kind).value,
                  roles=" ".join(role_values), region=check_region(region) if region else None)
    session.add(party)
    session.flush()
    return party


def create_party(session: Session, registrar: Party, name: str, kind: PartyKind, roles: Iterable[Role],
                 region: str | None = None) -> Party:
    """Register a party (registrar only), with the region it is in where known."""
    require_role(registrar, Role.REGISTRAR)
    return _insert_party(session, name, kind, roles, region)


def set_party_status(session: Session, registrar: Party, party: Party, status: PartyStatus, reason: str) -> Party:
    """Suspend a party (its keys stop working) or reactivate it. Of two racing changes one wins."""
    require_role(registrar, Role.REGISTRAR)
    if not reason.strip():
        raise errors.InvalidRequest("say why: the reason is kept with the party")
    if party.id == registrar.id:
        raise errors.InvalidRequest("a registrar cannot suspend or reactivate itself")
    before = PartyStatus.ACTIVE if status == PartyStatus.SUSPENDED else PartyStatus.SUSPENDED
    result = session.execute(update(Party).where(col(Party.id) == party.id, col(Party.status) == before.value)
                             .values(status=status.value, status_reason=reason.strip()))
    if rows_changed(result) != 1:
        raise errors.Conflict(f"party {party.public_id} is not {before.value}")
    session.refresh(party)
    return party


def get_party(session: Session, public_id: str) -> Party:
    return get_by_public_id(session, Party, public_id, lambda: errors.UnknownParty(f"no party {public_id}"))


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_api_key(session: Session, party: Party, label: str) -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and only its hash is stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey(party_id=pk(party), key_hash=hash_api_key(secret), prefix=secret[:12], label=label)
    session.add(key)
    session.flush()
    return key, secret


def issue_api_key(session: Session, actor: Party, party: Party, label: str = "") -> tuple[ApiKey, str]:
    """A new key for `party`: the party itself may ask, or the registrar for anyone."""
    if party.id != actor.id:
        require_role(actor, Role.REGISTRAR)
    return _new_api_key(session, party, label)


def issue_operator_api_key(session: Session, party: Party, label: str = "") -> tuple[ApiKey, str]:
    """A key made by the operator at the database itself (`cir keys create`): no caller to check."""
    return _new_api_key(session, party, label)


def authenticate(session: Session, secret: str) -> Party | None:
    """The party a live key belongs to, whatever its status: the caller refuses suspended ones."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    return session.execute(
        select(Party)
        .join(ApiKey, col(ApiKey.party_id) == col(Party.id))
        .where(col(ApiKey.key_hash) == hash_api_key(secret), col(ApiKey.revoked_at).is_(None))
    ).scalar_one_or_none()


def revoke_api_key(session: Session, actor: Party, prefix: str) -> None:
    query = update(ApiKey).where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None))
    if Role.REGISTRAR.value not in actor.role_set:
        query = query.where(col(ApiKey.party_id) == actor.id)
    if rows_changed(session.execute(query.values(revoked_at=datetime.now(UTC)))) != 1:
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
    party = _insert_party(session, name, PartyKind.ORGANISATION, [Role.REGISTRAR, Role.AUDITOR])
    _, secret = _new_api_key(session, party, label="bootstrap")
    return Bootstrap(party, secret)
